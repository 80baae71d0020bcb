"""``python -m pollers``: run the scheduled pollers with settings from the environment."""

from hookline.settings import Settings
from pollers.main import run

if __name__ == "__main__":
    run(Settings())
