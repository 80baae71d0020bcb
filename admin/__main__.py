from admin.main import run
from hookline.settings import Settings

run(Settings())
