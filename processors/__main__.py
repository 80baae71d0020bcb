"""``python -m processors``: run the processor worker with settings from the environment."""

from hookline.settings import Settings
from processors.main import run

if __name__ == "__main__":
    run(Settings())
