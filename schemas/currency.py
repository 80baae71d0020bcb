"""ISO 4217 minor units: how many decimals each currency's amounts carry.

:class:`schemas.events.Money` holds integer minor units; this table turns them back into
decimal amounts for APIs that want those (a CRM's deal amount), and is the table the
normalisers use to turn decimal strings into minor units.
"""

from __future__ import annotations

from decimal import Decimal

# fmt: off
_ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                 "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")
# fmt: on
#: ISO 4217 minor-unit exponents that differ from 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO_DECIMAL, 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def exponent(currency: str) -> int:
    """Decimals of ``currency`` (ISO 4217 code); 2 unless listed otherwise."""
    return CURRENCY_EXPONENTS.get(currency, 2)


def major_units(amount_minor: int, currency: str) -> Decimal:
    """19900 USD -> Decimal('199.00'); 1000 JPY -> Decimal('1000'); exact."""
    return Decimal(amount_minor).scaleb(-exponent(currency))
