"""PostgreSQL warehouse: every canonical entity as a typed row, upserted by version.

- **Tables** (schema ``warehouse``, migrations ``0006``-``0010``): ``orders`` +
  ``order_line_items``, ``customers``, ``payments`` + ``payment_refunds``, ``products`` +
  ``product_inventory_levels``, ``messages``. Key: the canonical entity ID. Columns are
  typed from the canonical schema (money as BIGINT minor units + CHAR(3) currency,
  timestamps as TIMESTAMPTZ, tags as TEXT[], maps as JSONB); ``event`` keeps the
  CloudEvent that wrote the row, as received; ``source`` and ``event_id`` say where it came
  from, ``synced_at`` when it was written. Passthrough events are not stored.
- **Version guard**: ``INSERT … ON CONFLICT (id) DO UPDATE … WHERE excluded.updated_at >
  target.updated_at``: a row is only replaced by a strictly newer version of its entity.
  An older change arriving late, a replay, a redelivery (same key or not) write nothing.
  Two versions with the same ``updated_at`` are one version: the first written stays.
- **Children** (line items, refunds, inventory levels) are deleted and re-inserted in the
  transaction that writes their parent, and only when the parent row was written: they
  always belong to the version in the parent row.
- **Partial snapshots**: the runner merges them onto the state applied before
  (:mod:`connectors.delivery`), so the row is written from that merged state; ``event``
  holds the partial CloudEvent itself. Children are replaced only when the merged state
  has them.
- **Batching**: the runner calls ``apply`` for up to ``concurrency`` entities at once;
  calls arriving within ``batch_window_seconds`` share one transaction
  (:class:`~connectors.batching.MicroBatcher`, one entity at most once per batch), rows
  locked in (table, id) order so two instances' batches cannot deadlock. A batch is a few
  pipelined statements (per table one ``executemany`` of the upsert, one ``DELETE`` and
  one ``executemany`` of the children). When the database refuses one of its changes,
  the batch is written again with a savepoint per change: the refused one fails alone.
- **Idempotency**: the entity ID and the version guard make every write idempotent; the
  idempotency key is not needed (the CloudEvent ``id`` is stored as ``event_id``).
- **U+0000**: PostgreSQL's text and JSONB cannot hold it; it is stored as U+FFFD (the
  replacement character) in every column and in ``event`` (:mod:`schemas.text`), so such
  a change is written rather than refused.
- **Errors**: a change PostgreSQL refuses as invalid data (SQLSTATE classes 22 and 23,
  e.g. a number out of range) or one that is not a valid canonical entity is permanent
  (dead-lettered); any other database error (connection lost, pool exhausted, deadlock,
  schema not migrated) is retriable, so an unreachable warehouse opens the breaker.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field, ValidationError

from connectors.batching import MicroBatcher
from connectors.destinations.base import (
    Applied,
    Change,
    DestinationConfig,
    DestinationContext,
    DestinationSpec,
)
from connectors.errors import DeliveryError, PermanentError, RetriableError
from schemas.events import (
    FAMILIES,
    CloudEvent,
    Customer,
    CustomerRef,
    InventoryLevel,
    LineItem,
    Message,
    Money,
    Order,
    Payment,
    Product,
    Refund,
)
from schemas.text import without_nul

SCHEMA = "warehouse"
EVENT_FIELD = "cloudevent"  # the key of the state holding the CloudEvent as received
MAX_BATCH = 1000

Row = tuple[object, ...]


class WarehouseConfig(DestinationConfig):
    type: Literal["warehouse"] = "warehouse"
    batch_size: int = Field(
        100, ge=1, le=MAX_BATCH, description="Changes written in one transaction at most."
    )
    batch_window_seconds: float = Field(
        0.005,
        ge=0,
        le=1,
        description="How long a change waits for others to share its transaction.",
    )


# --- mapping: canonical entity -> typed columns ---------------------------------------------


def _money(money: Money | None) -> Row:
    return (None, None) if money is None else (money.amount_minor, money.currency)


def _ref(customer: CustomerRef | None) -> Row:
    return (None, None) if customer is None else (customer.id, customer.email)


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_orjson)  # orjson: the CloudEvent is most of a row's bytes


def _orjson(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json(model: BaseModel | None) -> Jsonb | None:
    return None if model is None else _jsonb(model.model_dump(mode="json"))


def _order(o: Order) -> Row:
    return (
        o.number, o.status, o.financial_status, o.fulfillment_status, *_ref(o.customer),
        *_money(o.total), *_money(o.subtotal), *_money(o.tax), _json(o.shipping_address),
        list(o.tags), _jsonb(o.metadata), o.created_at, o.cancelled_at,
    )  # fmt: skip


def _customer(c: Customer) -> Row:
    return (
        c.email, c.name, c.first_name, c.last_name, c.phone, c.company, _json(c.address),
        list(c.tags), _jsonb(c.properties), c.created_at,
    )  # fmt: skip


def _payment(p: Payment) -> Row:
    return (
        p.object_type, p.status, *_money(p.amount), *_money(p.amount_refunded),
        *_ref(p.customer), p.order_id, p.parent_id, p.description, _jsonb(p.metadata),
        p.created_at,
    )  # fmt: skip


def _product(p: Product) -> Row:
    return (p.title, p.sku, p.status, *_money(p.price), list(p.tags), p.created_at)


def _message(m: Message) -> Row:
    s = m.sender
    sender = (None,) * 4 if s is None else (s.id, s.username, s.display_name, s.is_bot)
    return (
        m.message_type, m.chat_id, *sender, m.text, m.callback_data, m.reply_to_id, m.sent_at,
    )  # fmt: skip


def _line_items(o: Order) -> list[Row]:
    items: Sequence[LineItem] = o.line_items
    return [(i.sku, i.name, i.quantity, *_money(i.unit_price), i.product_id) for i in items]


def _refunds(p: Payment) -> list[Row]:
    refunds: Sequence[Refund] = p.refunds
    return [(r.id, *_money(r.amount), r.status, r.reason, r.created_at) for r in refunds]


def _levels(p: Product) -> list[Row]:
    levels: Sequence[InventoryLevel] = p.inventory
    return [(v.location_id, v.inventory_item_id, v.available) for v in levels]


def _names(spaced: str) -> tuple[str, ...]:
    return tuple(spaced.split())


def _text(statement: sql.Composed) -> str:
    """The statement as text (cached by the callers: psycopg caches the parsing of a text
    query, while a ``Composed`` one is rendered again on every execution)."""
    return statement.as_string(None)


@dataclass(frozen=True, slots=True)
class _Children:
    """Rows belonging to one version of the parent, replaced with it."""

    table: str
    parent_column: str
    field: str  # the entity's field holding them
    columns: tuple[str, ...]  # after the parent's ID and the position
    rows: Callable[[Any], list[Row]]

    @functools.cache  # noqa: B019 - the tables are constants: nothing leaks
    def delete_sql(self) -> str:
        """The children of the parents in ``%s`` (an array)."""
        return _text(
            sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                sql.Identifier(SCHEMA, self.table), sql.Identifier(self.parent_column)
            )
        )

    @functools.cache  # noqa: B019 - the tables are constants: nothing leaks
    def insert_sql(self) -> str:
        columns = (self.parent_column, "position", *self.columns)
        return _text(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(SCHEMA, self.table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            )
        )


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]  # the family's own, between the common head and tail
    row: Callable[[Any], Row]
    children: _Children | None = None

    def all_columns(self) -> tuple[str, ...]:
        return ("id", "updated_at", "external_ids", *self.columns, "source", "event_id", "event")

    @functools.cache  # noqa: B019 - the tables are constants: nothing leaks
    def upsert_sql(self) -> str:
        """Insert, or replace a strictly older version; ``RETURNING`` only when written."""
        columns = self.all_columns()
        assign = (sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in columns[1:])
        return _text(
            sql.SQL(
                "INSERT INTO {table} AS target ({columns}) VALUES ({values}) "
                "ON CONFLICT (id) DO UPDATE SET {assign}, synced_at = now() "
                "WHERE excluded.updated_at > target.updated_at RETURNING id"
            ).format(
                table=sql.Identifier(SCHEMA, self.name),
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                assign=sql.SQL(", ").join(assign),
            )
        )


TABLES: dict[str, _Table] = {
    "order": _Table(
        "orders",
        _names(
            "number status financial_status fulfillment_status customer_id customer_email "
            "total_minor total_currency subtotal_minor subtotal_currency tax_minor "
            "tax_currency shipping_address tags metadata created_at cancelled_at"
        ),
        _order,
        _Children(
            "order_line_items",
            "order_id",
            "line_items",
            _names("sku name quantity unit_price_minor unit_price_currency product_id"),
            _line_items,
        ),
    ),
    "customer": _Table(
        "customers",
        _names("email name first_name last_name phone company address tags properties created_at"),
        _customer,
    ),
    "payment": _Table(
        "payments",
        _names(
            "object_type status amount_minor amount_currency amount_refunded_minor "
            "amount_refunded_currency customer_id customer_email order_id parent_id "
            "description metadata created_at"
        ),
        _payment,
        _Children(
            "payment_refunds",
            "payment_id",
            "refunds",
            _names("refund_id amount_minor currency status reason created_at"),
            _refunds,
        ),
    ),
    "product": _Table(
        "products",
        _names("title sku status price_minor price_currency tags created_at"),
        _product,
        _Children(
            "product_inventory_levels",
            "product_id",
            "inventory",
            _names("location_id inventory_item_id available"),
            _levels,
        ),
    ),
    "message": _Table(
        "messages",
        _names(
            "message_type chat_id sender_id sender_username sender_display_name "
            "sender_is_bot text callback_data reply_to_id sent_at"
        ),
        _message,
    ),
}
"""family -> its table; the families the warehouse stores."""


# --- writing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Write:
    """One change, mapped: the parent row and (when the state has them) the children."""

    table: _Table
    entity_id: str
    row: Row
    children: list[Row] | None


def prepare(change: Change) -> _Write:
    """The rows of ``change``; ``PermanentError`` when its state is not a valid entity."""
    table = TABLES.get(change.family)
    if table is None:
        raise PermanentError(f"the warehouse stores no {change.family!r} entities")
    state = {k: without_nul(v) for k, v in change.state.items() if k != EVENT_FIELD}
    try:
        entity = FAMILIES[change.family].model_validate(state)
    except ValidationError as exc:
        raise PermanentError(
            f"invalid {change.family} state: {exc.error_count()} validation errors",
            body=str(exc),
        ) from None
    event = _jsonb(without_nul(change.state.get(EVENT_FIELD)))
    head = (entity.id, entity.updated_at, _jsonb(entity.external_ids))
    row = (*head, *table.row(entity), change.source, change.event_id, event)
    children = table.children
    kept = children is not None and children.field in state
    return _Write(table, entity.id, row, children.rows(entity) if children and kept else None)


async def write(conn: psycopg.AsyncConnection[Any], item: _Write) -> bool:
    """Upsert the parent; when it was written, replace its children. True when written."""
    cursor = await conn.execute(item.table.upsert_sql(), item.row)
    if await cursor.fetchone() is None:
        return False  # the warehouse holds this version or a newer one
    async with conn.cursor() as cur:
        await _replace_children(cur, item.table, [item])
    return True


async def write_all(conn: psycopg.AsyncConnection[Any], items: Sequence[_Write]) -> list[bool]:
    """Every change of a batch in a few pipelined statements: per table one
    ``executemany`` of the upsert (each row under the version guard), then, for the
    parents written, one ``DELETE`` of their children and one ``executemany`` of the new
    ones. ``items`` sorted by (table, id), the order rows are locked in. True per item
    when written."""
    by_table: dict[str, list[_Write]] = defaultdict(list)
    for item in items:
        by_table[item.table.name].append(item)
    written: set[tuple[str, str]] = set()
    async with conn.cursor() as cur:
        for group in by_table.values():
            table = group[0].table
            await cur.executemany(table.upsert_sql(), [i.row for i in group], returning=True)
            ids: set[str] = set()
            while True:  # one result per statement: the ID when the row was written
                ids.update(row[0] for row in await cur.fetchall())
                if not cur.nextset():
                    break
            written.update((table.name, entity_id) for entity_id in ids)
            await _replace_children(cur, table, [i for i in group if i.entity_id in ids])
    return [(i.table.name, i.entity_id) in written for i in items]


async def _replace_children(
    cur: psycopg.AsyncCursor[Any], table: _Table, parents: Sequence[_Write]
) -> None:
    """Replace the children of ``parents`` (written) whose state has them."""
    children = table.children
    parents = [p for p in parents if p.children is not None]
    if children is None or not parents:
        return
    await cur.execute(children.delete_sql(), ([p.entity_id for p in parents],))
    rows = [(p.entity_id, n, *row) for p in parents for n, row in enumerate(p.children or [])]
    if rows:
        await cur.executemany(children.insert_sql(), rows)


def refused(exc: psycopg.Error) -> DeliveryError:
    """The one place where database errors become delivery errors."""
    message = exc.diag.message_primary or str(exc).splitlines()[0]
    detail = f"SQLSTATE {exc.sqlstate}: {message}" if exc.sqlstate else message
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return PermanentError(f"the warehouse refused invalid data ({detail})", body=str(exc))
    return RetriableError(f"warehouse unavailable ({type(exc).__name__}: {detail})")


class Warehouse:
    def __init__(self, config: WarehouseConfig, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._timeout = config.timeout_seconds
        self._batcher: MicroBatcher[_Write, bool] = MicroBatcher(
            self._write_batch,
            max_size=config.batch_size,
            window_seconds=config.batch_window_seconds,
            key=lambda item: (item.table.name, item.entity_id),
        )

    def wants(self, event: CloudEvent) -> bool:
        return event.family in TABLES

    def state_for(self, event: CloudEvent) -> dict[str, Any]:
        """The entity's fields, plus the CloudEvent itself (stored as ``event``)."""
        state = event.data.model_dump(mode="json", exclude={"partial"})
        return {**state, EVENT_FIELD: event.model_dump(mode="json")}

    async def apply(self, change: Change, idempotency_key: str) -> Applied:
        await self._batcher.submit(prepare(change))
        return Applied()

    async def probe(self) -> None:
        """``SELECT 1`` on a pooled connection."""
        try:
            async with self._pool.connection(self._timeout) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise refused(exc) from exc

    async def _write_batch(self, items: list[_Write]) -> list[bool | BaseException]:
        """One transaction of a few statements (:func:`write_all`). When PostgreSQL refuses
        a change of it, the batch is written again with a savepoint per change, so the
        refused one fails alone."""
        order = sorted(range(len(items)), key=lambda i: (items[i].table.name, items[i].entity_id))
        ordered = [items[i] for i in order]
        try:
            async with self._pool.connection(self._timeout) as conn:
                try:
                    async with conn.transaction():
                        done: list[bool | BaseException] = list(await write_all(conn, ordered))
                except (psycopg.DataError, psycopg.IntegrityError):
                    done = await _one_by_one(conn, ordered)
        except psycopg.Error as exc:
            raise refused(exc) from exc
        outcomes: list[bool | BaseException] = [False] * len(items)
        for index, outcome in zip(order, done, strict=True):
            outcomes[index] = outcome
        return outcomes


async def _one_by_one(
    conn: psycopg.AsyncConnection[Any], items: Sequence[_Write]
) -> list[bool | BaseException]:
    """One transaction, a savepoint per change: a refused change fails alone."""
    outcomes: list[bool | BaseException] = []
    async with conn.transaction():
        for item in items:
            try:
                async with conn.transaction():
                    outcomes.append(await write(conn, item))
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                outcomes.append(refused(exc))
    return outcomes


def create(config: WarehouseConfig, context: DestinationContext) -> Warehouse:
    return Warehouse(config, context.pool)


SPEC = DestinationSpec(name="warehouse", config_model=WarehouseConfig, create=create)
