#!/bin/sh
# Stand-in for the redis image's entrypoint: reachable from other containers (the image
# turns protected mode off when no configuration file is given), run as the redis user.
set -e
if [ "$1" = redis-server ]; then
    shift
    exec setpriv --reuid=redis --regid=redis --init-groups \
         redis-server --protected-mode no --bind 0.0.0.0 --dir /data "$@"
fi
exec "$@"
