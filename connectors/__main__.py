"""``python -m connectors``: run the connectors with settings from the environment."""

from connectors.main import run
from hookline.settings import Settings

if __name__ == "__main__":
    run(Settings())
