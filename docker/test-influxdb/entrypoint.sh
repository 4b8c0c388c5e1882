#!/bin/sh
# Entry point of the influxdb:1.8 stand-in (see Containerfile): influxd in
# the foreground as far as the container is concerned, INFLUXDB_DB created
# once it answers, SIGTERM passed on.
set -e
influxd -config /etc/influxdb/influxdb.conf &
pid=$!
trap 'kill $pid; wait $pid; exit 0' TERM INT
if [ -n "${INFLUXDB_DB:-}" ]; then
	i=0
	until influx -execute 'SHOW DATABASES' >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 150 ] && { echo "influxd did not answer in 30 s" >&2; exit 1; }
		sleep 0.2
	done
	influx -execute "CREATE DATABASE \"$INFLUXDB_DB\""
fi
wait $pid
