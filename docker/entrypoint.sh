#!/bin/sh
# Entry point of the twamp-client image (installed as
# /usr/local/bin/twamp-client-entrypoint).
#
#   (no argument), "run [OPTIONS]" or only options (-v, --once, --grace S)
#       the probe daemon: on the first run, populate /config/data with the
#       default configuration, then
#       exec twamp-client run --data-dir /config/data [OPTIONS]
#   ping | responder | bench | check-config | health  ARGS...
#       exec twamp-client COMMAND ARGS... (the responder of the demo)
#   --version, -V, --help, -h
#       exec twamp-client with that option
#   anything else (sh, ls -l /config, ...)
#       exec'd as given
#
# The volume keeps the original client's layout: /config/data holds the
# configuration.  bin/ and cron.d/ are no longer used: the schedules are
# Probe.Schedule and Probe.ConfigSchedule in the global configuration.
#
# The image runs as the unprivileged user twamp.  Started as root (--user 0,
# e.g. once on a volume left by the original client, whose files belong to
# root), the daemon mode gives /config to twamp and drops to it before
# starting: the probe itself never runs as root.
#
# Environment: PROBE_SOURCE (the probe name; read by twamp-client itself),
# TWAMP_DEFAULT_DATA (the directory copied on the first run; default
# /usr/share/twamp-client/default-data; the demo uses demo-data beside it).
set -eu

CONFIG_ROOT=/config
DATA_DIR=$CONFIG_ROOT/data
DEFAULT_DATA=${TWAMP_DEFAULT_DATA:-/usr/share/twamp-client/default-data}
RUN_USER=twamp

log() {
	printf '%s twamp-client-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

# A configuration directory of either generation (the daemon itself says
# what is wrong with it, if anything).
has_config() {
	for f in twamp_global_config.json twamp_targets_list.json global_config.json targets_list.json; do
		[ -e "$1/$f" ] && return 0
	done
	return 1
}

daemon() {
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATA_DIR"
		if [ -n "$(find "$CONFIG_ROOT" ! -user "$RUN_USER" -print -quit)" ]; then
			log "started as root: giving $CONFIG_ROOT to user $RUN_USER ($(id -u "$RUN_USER"):$(id -g "$RUN_USER"))"
			find "$CONFIG_ROOT" ! -user "$RUN_USER" -exec chown -h "$RUN_USER:$RUN_USER" {} +
		fi
		exec setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups \
			--inh-caps=-all --bounding-set=-all --no-new-privs -- "$0" run "$@"
	fi

	if ! mkdir -p "$DATA_DIR" 2>/dev/null || [ ! -w "$DATA_DIR" ]; then
		log "cannot write $DATA_DIR as uid $(id -u): the volume's files belong to another user" \
			"(a volume of the original client belongs to root).  Start the container once as root," \
			"it gives the volume to $RUN_USER and goes on as $RUN_USER:" \
			"'docker compose run --rm --user 0 twamp-client --once', or chown -R $(id -u):$(id -g) the volume"
		exit 1
	fi
	stranger=$(find "$CONFIG_ROOT" ! -user "$(id -u)" -print -quit 2>/dev/null || true)
	if [ -n "$stranger" ]; then
		log "warning: $stranger (and maybe more) belongs to another user; a file the probe cannot" \
			"replace makes downloads or the spool fail.  Starting once as root (--user 0) fixes the ownership"
	fi

	if ! has_config "$DATA_DIR"; then
		cp -R "$DEFAULT_DATA"/. "$DATA_DIR"/
		log "first run: copied the default configuration from $DEFAULT_DATA to $DATA_DIR:" \
			"$(cd "$DATA_DIR" && ls -- *.json | tr '\n' ' ')"
		log "set ConfigSource (the central configuration) or edit the targets there," \
			"then restart the container or send it SIGHUP"
	fi
	if [ -d "$CONFIG_ROOT/bin" ] || [ -d "$CONFIG_ROOT/cron.d" ]; then
		log "note: $CONFIG_ROOT/bin and $CONFIG_ROOT/cron.d (the original client's scripts and crontabs)" \
			"are not used any more; the schedules are Probe.Schedule and Probe.ConfigSchedule" \
			"in the global configuration.  They can be deleted"
	fi
	# The health file of a previous container must not vouch for this one:
	# the HEALTHCHECK passes again once this daemon has completed a cycle.
	rm -f "$DATA_DIR/health" "$DATA_DIR/health.tmp"

	exec twamp-client run --data-dir "$DATA_DIR" "$@"
}

case "${1:-}" in
--version | -V | --help | -h)
	exec twamp-client "$1"
	;;
"" | -*)
	daemon "$@"
	;;
run)
	shift
	daemon "$@"
	;;
ping | responder | bench | check-config | health)
	exec twamp-client "$@"
	;;
*)
	exec "$@"
	;;
esac
