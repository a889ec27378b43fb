#!/bin/sh
# Stand-in for the nginx image's entrypoint: each /etc/nginx/templates/*.template rendered
# into /etc/nginx/conf.d/ with envsubst, replacing only variables set in the environment.
set -e
if [ "$1" = nginx ]; then
    defined_envs=$(printf '${%s} ' $(env | cut -d= -f1))
    for template in /etc/nginx/templates/*.template; do
        [ -f "$template" ] || continue
        envsubst "$defined_envs" < "$template" > "/etc/nginx/conf.d/$(basename "$template" .template)"
    done
fi
exec "$@"
