"""``python -m ingress``: run the ingress with settings from the environment."""

from hookline.settings import Settings
from ingress.main import run

if __name__ == "__main__":
    run(Settings())
