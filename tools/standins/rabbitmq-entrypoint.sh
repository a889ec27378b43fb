#!/bin/sh
# Stand-in for the rabbitmq image's entrypoint: the default user from RABBITMQ_DEFAULT_USER/
# RABBITMQ_DEFAULT_PASS, allowed from other hosts, logs on standard output.
set -e
if [ "$1" = rabbitmq-server ]; then
    cat > /etc/rabbitmq/rabbitmq.conf <<CONF
loopback_users = none
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
CONF
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
    export HOME=/var/lib/rabbitmq RABBITMQ_LOGS=-
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
fi
exec "$@"
