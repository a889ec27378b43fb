from auction_common.cli import service_main
from user_service.app import SERVICE_DIR, build_parts
from user_service.commands import COMMANDS
from user_service.settings import load

service_main("user_service", SERVICE_DIR, load, build_parts, extra_commands=COMMANDS)
