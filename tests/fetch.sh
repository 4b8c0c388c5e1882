#!/bin/bash
# Integration test of the configuration downloader (src/io/fetch.c) against
# real servers that the test starts on 127.0.0.1 with free ports, everything
# in a temporary directory, all stopped at the end:
#
#   nginx (Debian package `nginx`)  http and https (a throwaway CA and server
#                                   certificate for 127.0.0.1 / localhost),
#                                   auth_basic, a `return 500` location,
#                                   redirects, and git http-backend through
#                                   fcgiwrap (Debian package `fcgiwrap`) with
#                                   auth_basic, over http and https;
#   git daemon                      git:// on a bare repository; file:// too;
#   a python3 listener              accepts and never answers (timeouts), and
#                                   one that streams an endless chunked body.
#
# tests/fetch_driver.c, built here from the project's sources, runs
# fetch_run() with a ConfigSource given per line on its standard input (one
# struct fetch per data directory, so conditional GETs and the remembered git
# commit work across runs).  For each case the script checks the result, the
# one error line (err, and exactly one error line in the log), that the data
# directory holds either exactly the new files or, byte for byte, the
# previous ones, and that no temporary file is left in it.
#
#   tests/fetch.sh                                   (from anywhere)
#   SANITIZE=address,undefined tests/fetch.sh        driver built with sanitizers
#   CC=clang tests/fetch.sh
set -u
cd "$(dirname "$0")/.." || exit 1

pass=0 fail=0 skipped=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "skip $1"; }

# --- requirements -------------------------------------------------------------
# nginx, fcgiwrap, git, openssl: scripts/install-deps.sh --test installs them
# (a package it cannot install fails the test with apt's error).
scripts/install-deps.sh --test || { ko "test dependencies (scripts/install-deps.sh --test)"; echo "fetch: $pass passed, $fail failed"; exit 1; }
export PATH="$PATH:/usr/sbin:/usr/lib/git-core"
for tool in nginx git openssl python3 pkg-config sha256sum "${CC:-cc}"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$tool is missing (scripts/install-deps.sh installs the build dependencies)"
		exit 1
	fi
done
HTTP_BACKEND=$(git --exec-path)/git-http-backend
FCGIWRAP=$(command -v fcgiwrap || true)

TMP=$(mktemp -d /tmp/fetch-test.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
T0=$SECONDS

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # PORT: until something listens (5 s)
	for _ in $(seq 100); do
		python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
			"$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
HP=$(free_port)   # nginx http
SP=$(free_port)   # nginx https
GP=$(free_port)   # git daemon
DEADP=$(free_port) # nothing listens here
while [ "$SP" = "$HP" ]; do SP=$(free_port); done

# --- the driver -------------------------------------------------------------------
CC=${CC:-cc}
SANFLAGS=
[ -n "${SANITIZE:-}" ] && SANFLAGS="-fsanitize=$SANITIZE -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
PKGS="libcurl libgit2 json-c openssl"
# libcurl and libgit2 through src/io/dynlib.c's dlopen(), as in the daemon: not linked
# shellcheck disable=SC2086
if ! $CC -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror $SANFLAGS -Iinclude \
	-DTWAMP_LIBCURL_SONAME="\"$(CC=$CC scripts/soname.sh curl)\"" -DTWAMP_LIBGIT2_SONAME="\"$(CC=$CC scripts/soname.sh git2)\"" \
	$(pkg-config --cflags $PKGS) -o "$TMP/fetch_driver" tests/fetch_driver.c src/io/fetch.c src/io/dynlib.c src/io/url.c \
	src/config.c src/strdist.c src/fsutil.c src/keyfile.c src/wire.c src/sched/cron.c src/log.c src/ntptime.c src/record.c \
	$(pkg-config --libs json-c openssl) -lpthread -lm 2>"$TMP/cc.log"; then
	ko "build tests/fetch_driver.c"
	cat "$TMP/cc.log"
	exit 1
fi
ok "build tests/fetch_driver.c${SANITIZE:+ with -fsanitize=$SANITIZE}"
export TWAMP_FETCH_TIMEOUT_MS=3000
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

# --- certificates and passwords -----------------------------------------------------
(
	cd "$TMP" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
		-subj "/CN=twamp fetch test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" &&
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
			-subj "/CN=127.0.0.1" &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out server.pem -days 2 -extfile server.ext &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 \
			-subj "/CN=another CA"
) >"$TMP/openssl.log" 2>&1 || { ko "make test certificates"; cat "$TMP/openssl.log"; exit 1; }
PW=s3cret-pw
BADPW=wrong-pw-42
printf 'probe:%s\n' "$(openssl passwd -apr1 "$PW")" >"$TMP/htpasswd"

# --- files the servers serve ---------------------------------------------------------
WWW=$TMP/www
mkdir -p "$WWW/cfg" "$WWW/err500" "$TMP/nginx"
STAMP=$(($(date +%s) - 1000))
put() { # FILE CONTENT: write, with a new mtime each time (nginx's ETag is mtime-size)
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
	STAMP=$((STAMP + 10))
	touch -d "@$STAMP" "$1"
}
global1() { # PROBE
	printf '{ "ConfigSource": { "ConfigMethod": "web", "ConfigURL": "http://127.0.0.1:%s/cfg/{probe}",
  "ConfigUser": "probe", "ConfigPassword": "%s" },
  "Destination": { "DestinationURL": "http://127.0.0.1:9/telegraf", "DestinationPassword": "dG9rZW4=" },
  "Probe": { "SourceName": "%s" } }\n' "$HP" "$PW" "$1"
}
targets() { # COMMENT...: one target per word
	local out='{ "Targets": [' sep= i=10 c
	for c in "$@"; do
		out="$out$sep { \"IP\": \"192.0.2.$i\", \"DSCP\": \"2\", \"Custom_comment\": \"$c\" }"
		sep=,
		i=$((i + 1))
	done
	printf '%s ] }\n' "$out"
}
for p in p1 p2; do
	put "$WWW/cfg/$p/twamp_global_config.json" "$(global1 $p)"
	put "$WWW/cfg/$p/twamp_targets_list.json" "$(targets $p-a $p-b)"
done
for d in trunc utf8 types zero dup big onlyglobal; do
	put "$WWW/cfg/$d/twamp_global_config.json" "$(global1 p1)"
done
put "$WWW/cfg/trunc/twamp_targets_list.json" '{ "Targets": [ { "IP": "192.0.2.10", "DSC'
put "$WWW/cfg/utf8/twamp_targets_list.json" "$(printf '{ "Targets": [ { "IP": "192.0.2.10", "DSCP": "2", "Custom_comment": "bad \xff\xfe bytes" } ] }')"
put "$WWW/cfg/types/twamp_targets_list.json" '{ "Targets": [ { "IP": "192.0.2.10", "DSCP": true } ] }'
put "$WWW/cfg/zero/twamp_targets_list.json" '{ "Targets": [] }'
put "$WWW/cfg/dup/twamp_targets_list.json" "$(targets same same)"
sed -i 's/192.0.2.11/192.0.2.10/' "$WWW/cfg/dup/twamp_targets_list.json"
{ printf '{ "Targets": ['; head -c 50000000 /dev/zero | tr '\0' ' '; printf '] }\n'; } >"$WWW/cfg/big/twamp_targets_list.json"
put "$WWW/cfg/g2/global_config.json" '{ "Destinations": [], "Probe": { "SourceName": "g2" } }'
put "$WWW/cfg/g2/targets_list.json" "$(targets g2-a)"

# --- git repository -------------------------------------------------------------------
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.net
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.net
export GIT_CONFIG_NOSYSTEM=1 HOME=$TMP
BARE=$TMP/git/cfg.git
WORK=$TMP/gitwork
git_q() { git -C "$WORK" "$@" >>"$TMP/git.log" 2>&1; }
{
	git init -q --bare -b main "$BARE" &&
		git -C "$BARE" config http.receivepack false &&
		git init -q -b main "$WORK" &&
		mkdir -p "$WORK/p1" "$WORK/p2" &&
		global1 p1 >"$WORK/p1/twamp_global_config.json" &&
		targets g1-a g1-b >"$WORK/p1/twamp_targets_list.json" &&
		global1 p2 >"$WORK/p2/twamp_global_config.json" &&
		targets g2-a >"$WORK/p2/twamp_targets_list.json" &&
		git_q add -A && git_q commit -qm "first" && git_q remote add origin "$BARE" &&
		git_q push -q origin main && git_q push -q origin main:cfg
} || { ko "make the git repository"; cat "$TMP/git.log"; exit 1; }

# --- servers ----------------------------------------------------------------------------
cat >"$TMP/helper.py" <<'EOF'
# Two listeners on 127.0.0.1: "hang" accepts and never answers; "endless"
# answers any request with 200 and a chunked body that never ends (at most
# 128 MiB).  Prints "HANG_PORT ENDLESS_PORT".
import socket, threading

def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s

held = []

def hang(s):
    while True:
        c, _ = s.accept()
        held.append(c)

def endless_one(c):
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        c.sendall(b"1\r\n[\r\n")
        for _ in range(2048):
            c.sendall(frame)
    except OSError:
        pass
    finally:
        c.close()

def endless(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=endless_one, args=(c,), daemon=True).start()

h, e = listener(), listener()
print(h.getsockname()[1], e.getsockname()[1], flush=True)
threading.Thread(target=hang, args=(h,), daemon=True).start()
endless(e)
EOF
python3 "$TMP/helper.py" >"$TMP/helper.ports" 2>"$TMP/helper.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/helper.ports" ] && break; sleep 0.05; done
read -r HANGP ENDLESSP <"$TMP/helper.ports"

HAVE_FCGI=
if [ -n "$FCGIWRAP" ] && [ -x "$HTTP_BACKEND" ]; then
	"$FCGIWRAP" -c 1 -s "unix:$TMP/fcgiwrap.sock" >"$TMP/fcgiwrap.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do [ -S "$TMP/fcgiwrap.sock" ] && break; sleep 0.05; done
	[ -S "$TMP/fcgiwrap.sock" ] && HAVE_FCGI=1
fi

N=$TMP/nginx
mkdir -p "$N/body" "$N/proxy" "$N/fastcgi" "$N/uwsgi" "$N/scgi"
{
	[ "$(id -u)" -eq 0 ] && echo "user root root;"
	cat <<EOF
worker_processes 1;
error_log $N/error.log;
events { worker_connections 64; }
http {
	access_log $N/access.log;
	client_body_temp_path $N/body;
	proxy_temp_path $N/proxy;
	fastcgi_temp_path $N/fastcgi;
	uwsgi_temp_path $N/uwsgi;
	scgi_temp_path $N/scgi;
	default_type application/json;
	server {
		listen 127.0.0.1:$HP;
		listen 127.0.0.1:$SP ssl;
		server_name localhost;
		ssl_certificate $TMP/server.pem;
		ssl_certificate_key $TMP/server.key;
		root $WWW;
		location /cfg/ {
			auth_basic "twamp config";
			auth_basic_user_file $TMP/htpasswd;
		}
		location /err500/ { return 500; }
		location /moved/ { rewrite ^/moved/(.*)\$ /cfg/\$1 redirect; }
		location /loop/ { return 302 /loop/again; }
		location ~ ^/git(/.*)\$ {
			auth_basic "twamp git";
			auth_basic_user_file $TMP/htpasswd;
			client_max_body_size 0;
			fastcgi_pass unix:$TMP/fcgiwrap.sock;
			fastcgi_param SCRIPT_FILENAME $HTTP_BACKEND;
			fastcgi_param GIT_PROJECT_ROOT $TMP/git;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$1;
			fastcgi_param REMOTE_USER \$remote_user;
			fastcgi_param QUERY_STRING \$query_string;
			fastcgi_param REQUEST_METHOD \$request_method;
			fastcgi_param CONTENT_TYPE \$content_type;
			fastcgi_param CONTENT_LENGTH \$content_length;
			fastcgi_param GIT_PROTOCOL \$http_git_protocol;
			fastcgi_param HOME $TMP;
		}
	}
}
EOF
} >"$N/nginx.conf"
nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" -g "daemon off; pid $N/nginx.pid;" \
	>"$N/stdout.log" 2>&1 &
PIDS+=($!)
if wait_port "$HP" && wait_port "$SP"; then
	ok "nginx $(nginx -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$HP (http) and :$SP (https)"
else
	ko "nginx did not start"
	cat "$N/error.log" "$N/stdout.log"
	exit 1
fi

git daemon --reuseaddr --listen=127.0.0.1 --port="$GP" --base-path="$TMP/git" --export-all \
	--informative-errors "$TMP/git" >"$TMP/git-daemon.log" 2>&1 &
PIDS+=($!)
if wait_port "$GP"; then ok "git daemon on 127.0.0.1:$GP"; else ko "git daemon did not start"; exit 1; fi

# --- drivers and checks -----------------------------------------------------------------
declare -A DIN DOUT DDIR DLOG DPID
start_driver() { # NAME DIR [SEED_DIR]: a driver for DIR, its files copied from SEED_DIR
	local name=$1 dir=$2 in out
	mkdir -p "$dir"
	[ -n "${3:-}" ] && cp "$3"/* "$dir"/
	mkfifo "$TMP/$name.in" "$TMP/$name.out"
	"$TMP/fetch_driver" "$dir" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.log" &
	DPID[$name]=$!
	PIDS+=($!)
	exec {in}>"$TMP/$name.in" {out}<"$TMP/$name.out"
	DIN[$name]=$in DOUT[$name]=$out DDIR[$name]=$dir DLOG[$name]=$TMP/$name.log
}

FILES="twamp_global_config.json twamp_targets_list.json global_config.json targets_list.json local_config.json"
sums() { # DIR: checksums of the configuration files present
	local f
	for f in $FILES; do [ -e "$1/$f" ] && (cd "$1" && sha256sum "$f"); done
}
leftovers() { # DIR: temporary files the downloader may have left
	find "$1" -maxdepth 2 \( -name .incoming -o -name '*.tmp' -o -name '.*.tmp' \) 2>/dev/null
}
same_files() { # DIR SRC FILE...: each FILE of DIR equals SRC's
	local d=$1 s=$2 f
	shift 2
	for f in "$@"; do cmp -s "$d/$f" "$s/$f" || return 1; done
}

RES= ERR= ELAPSED=0
# run NAME DESCRIPTION WANT ERR_REGEX STATE KEY=VALUE...
#   WANT: UPDATED|UNCHANGED|FAILED|NONE
#   ERR_REGEX: extended regex the err line must match ("" for no error)
#   STATE: same (DIR's files byte for byte as before) | new:SRC (DIR's files of
#          the generation equal SRC's) | any
run() {
	local name=$1 desc=$2 want=$3 re=$4 state=$5 dir line before after l0 l1 nerr t0 bad=
	shift 5
	dir=${DDIR[$name]}
	before=$(sums "$dir")
	l0=$(wc -l <"${DLOG[$name]}")
	t0=$(date +%s%N)
	echo "$*" >&"${DIN[$name]}"
	if ! read -r -t 60 line <&"${DOUT[$name]}"; then
		ko "$desc: no answer from the driver"
		return
	fi
	ELAPSED=$((($(date +%s%N) - t0) / 1000000))
	RES=$(awk '{print $2}' <<<"$line")
	ERR=${line#RESULT "$RES"}
	ERR=${ERR# }
	after=$(sums "$dir")
	l1=$(wc -l <"${DLOG[$name]}")
	nerr=$(sed -n "$((l0 + 1)),${l1}p" "${DLOG[$name]}" | grep -c ' error: ')
	[ "$RES" = "$want" ] || bad="$bad; result $RES, expected $want"
	if [ -n "$re" ]; then
		grep -Eq -- "$re" <<<"$ERR" || bad="$bad; err does not match /$re/"
		[ "$nerr" = 1 ] || bad="$bad; $nerr error lines in the log, expected 1"
	else
		[ -z "$ERR" ] || bad="$bad; unexpected err"
		[ "$nerr" = 0 ] || bad="$bad; $nerr error lines in the log"
	fi
	case "$state" in
	same) [ "$before" = "$after" ] || bad="$bad; DIR's files changed" ;;
	new:*)
		local src=${state#new:} f
		for f in $(cd "$src" && ls); do
			cmp -s "$dir/$f" "$src/$f" || bad="$bad; $f is not the new one"
		done ;;
	esac
	[ -z "$(leftovers "$dir")" ] || bad="$bad; left in DIR: $(leftovers "$dir" | tr '\n' ' ')"
	grep -q -- "$PW" <<<"$ERR" && bad="$bad; err shows the password"
	grep -q -- "$BADPW" <<<"$ERR" && bad="$bad; err shows the (wrong) password"
	if [ -z "$bad" ]; then
		ok "$desc: $RES${ERR:+: $ERR} (${ELAPSED} ms)"
	else
		ko "$desc${bad}${ERR:+ [err: $ERR]}"
	fi
}

H=http://127.0.0.1:$HP
S=https://127.0.0.1:$SP
AUTH="method=web user=probe password=$PW"
SEED=config_example/seed-web

# --- web, generation 1 ----------------------------------------------------------------
start_driver web "$TMP/d-web" "$SEED"
run web "web: good config" UPDATED "" "new:$WWW/cfg/p1" $AUTH url=$H/cfg/p1
if same_files "$TMP/d-web/config.old" "$SEED" twamp_global_config.json twamp_targets_list.json; then
	ok "web: config.old/ holds the previous pair"
else
	ko "web: config.old/ holds the previous pair"
fi
n304=$(grep -c '"GET /cfg/p1/twamp_[a-z_]*.json HTTP/1.1" 304 ' "$N/access.log")
run web "web: second run" UNCHANGED "" same $AUTH url=$H/cfg/p1
n304b=$(grep -c '"GET /cfg/p1/twamp_[a-z_]*.json HTTP/1.1" 304 ' "$N/access.log")
if [ $((n304b - n304)) = 2 ]; then
	ok "web: nginx answered both conditional GETs with 304"
else
	ko "web: nginx answered $((n304b - n304)) requests with 304, expected 2"
fi
cp "$TMP/d-web/twamp_global_config.json" "$TMP/prev-global"
cp "$TMP/d-web/twamp_targets_list.json" "$TMP/prev-targets"
put "$WWW/cfg/p1/twamp_targets_list.json" "$(targets p1-a p1-b p1-c)"
run web "web: target list changed centrally" UPDATED "" "new:$WWW/cfg/p1" $AUTH url=$H/cfg/p1
if cmp -s "$TMP/d-web/config.old/twamp_targets_list.json" "$TMP/prev-targets" &&
	cmp -s "$TMP/d-web/config.old/twamp_global_config.json" "$TMP/prev-global"; then
	ok "web: config.old/ holds the pair installed before"
else
	ko "web: config.old/ holds the pair installed before"
fi
run web "web: unchanged again" UNCHANGED "" same $AUTH url=$H/cfg/p1
run web "web: 401 wrong password" FAILED "/cfg/p1/twamp_global_config.json: HTTP 401" same \
	method=web user=probe password=$BADPW url=$H/cfg/p1
run web "web: 401 no credentials" FAILED "HTTP 401 Unauthorized" same method=web url=$H/cfg/p1
run web "web: password in the URL" UNCHANGED "" same method=web url=http://probe:$PW@127.0.0.1:$HP/cfg/p1
run web "web: wrong password in the URL is not shown" FAILED "probe:\*\*\*@127.0.0.1.*HTTP 401" same \
	method=web url=http://probe:$BADPW@127.0.0.1:$HP/cfg/p1
run web "web: 404" FAILED "/cfg/nope/twamp_global_config.json: HTTP 404 Not Found" same \
	$AUTH url=$H/cfg/nope
run web "web: 404 for the targets file only" FAILED "/cfg/onlyglobal/twamp_targets_list.json: HTTP 404" \
	same $AUTH url=$H/cfg/onlyglobal
run web "web: 500" FAILED "/err500/twamp_global_config.json: HTTP 500 Internal Server Error" same \
	$AUTH url=$H/err500
run web "web: connection refused" FAILED "127.0.0.1:$DEADP/.*(Couldn't connect|refused)" same \
	$AUTH url=http://127.0.0.1:$DEADP
run web "web: timeout (server never answers)" FAILED "timed out" same $AUTH url=http://127.0.0.1:$HANGP
if [ "$ELAPSED" -ge 2500 ] && [ "$ELAPSED" -lt 6000 ]; then
	ok "web: the timeout took ${ELAPSED} ms (TWAMP_FETCH_TIMEOUT_MS=$TWAMP_FETCH_TIMEOUT_MS)"
else
	ko "web: the timeout took ${ELAPSED} ms (TWAMP_FETCH_TIMEOUT_MS=$TWAMP_FETCH_TIMEOUT_MS)"
fi
run web "web: truncated JSON" FAILED \
	"cfg/trunc: twamp_targets_list.json: not valid JSON.*\(1 problem\)$" same $AUTH url=$H/cfg/trunc
run web "web: 50 MB file" FAILED "twamp_targets_list.json: larger than the 16 MiB limit" same \
	$AUTH url=$H/cfg/big
run web "web: endless chunked body" FAILED "larger than the 16 MiB limit" same \
	method=web url=http://127.0.0.1:$ENDLESSP
run web "web: invalid UTF-8" FAILED "twamp_targets_list.json: not valid JSON: invalid utf-8" same \
	$AUTH url=$H/cfg/utf8
run web "web: wrong types" FAILED \
	"twamp_targets_list.json: Targets\[0\].DSCP: expected a number.*\(1 problem\)" same \
	$AUTH url=$H/cfg/types
run web "web: zero targets (valid)" UPDATED "" "new:$WWW/cfg/zero" $AUTH url=$H/cfg/zero
run web "web: duplicate targets (valid for config_load)" UPDATED "" "new:$WWW/cfg/dup" \
	$AUTH url=$H/cfg/dup
run web "web: redirect followed (credentials kept on the same host)" UPDATED "" "new:$WWW/cfg/p1" \
	$AUTH url=$H/moved/p1
run web "web: redirect loop" FAILED "more than 5 redirects" same $AUTH url=$H/loop
run web "web: no ConfigSource" NONE "" same method= url=
run web "web: {probe} without a probe name" FAILED "ConfigURL: uses \{probe\}" same \
	$AUTH "url=$H/cfg/{probe}"

# killed in the middle of a download: DIR untouched; a kill while staging or
# copying into config.old/ leaves temp files there, which the next run removes
before=$(sums "$TMP/d-web")
"$TMP/fetch_driver" "$TMP/d-web" $AUTH url=http://127.0.0.1:$HANGP >/dev/null 2>&1 &
kpid=$!
sleep 0.5
kill -9 $kpid
wait $kpid 2>/dev/null
if [ "$(sums "$TMP/d-web")" = "$before" ] && [ -z "$(leftovers "$TMP/d-web")" ]; then
	ok "web: killed mid-download: files untouched, nothing left"
else
	ko "web: killed mid-download: files untouched, nothing left"
fi
mkdir -p "$TMP/d-web/.incoming"
echo '{ "Targets": [' >"$TMP/d-web/.incoming/twamp_targets_list.json"
echo '{ "Tar' >"$TMP/d-web/config.old/.twamp_targets_list.json.tmp"
run web "web: the run after a kill removes stale temp files" UNCHANGED "" same $AUTH url=$H/cfg/p1

# --- web: https -----------------------------------------------------------------------
start_driver tls "$TMP/d-tls" "$SEED"
run tls "https: without the test CA" FAILED "certificate" same $AUTH url=$S/cfg/p1
run tls "https: with another CA in ConfigCAFile" FAILED "certificate" same $AUTH url=$S/cfg/p1 \
	ca=$TMP/other.pem
run tls "https: with the test CA (ConfigCAFile)" UPDATED "" "new:$WWW/cfg/p1" $AUTH url=$S/cfg/p1 \
	ca=$TMP/ca.pem
run tls "https: localhost with the test CA" UNCHANGED "" same $AUTH \
	url=https://localhost:$SP/cfg/p1 ca=$TMP/ca.pem
put "$WWW/cfg/p1/twamp_targets_list.json" "$(targets p1-a p1-b p1-c p1-d)"
nw=$(grep -c 'ConfigInsecure' "${DLOG[tls]}")
run tls "https: ConfigInsecure" UPDATED "" "new:$WWW/cfg/p1" $AUTH url=$S/cfg/p1 insecure=1
run tls "https: ConfigInsecure again" UNCHANGED "" same $AUTH url=$S/cfg/p1 insecure=1
nw2=$(grep -c ' warning: .*ConfigInsecure' "${DLOG[tls]}")
if [ $((nw2 - nw)) = 1 ]; then
	ok "https: ConfigInsecure logged one warning for two runs"
else
	ko "https: ConfigInsecure logged $((nw2 - nw)) warnings for two runs, expected 1"
fi

# --- web: {probe} and generation 2 -----------------------------------------------------
start_driver pa "$TMP/d-p1" "$SEED"
start_driver pb "$TMP/d-p2" "$SEED"
run pa "web: {probe} = p1" UPDATED "" "new:$WWW/cfg/p1" $AUTH "url=$H/cfg/{probe}" probe=p1
run pb "web: {probe} = p2" UPDATED "" "new:$WWW/cfg/p2" $AUTH "url=$H/cfg/{probe}" probe=p2
run pb "web: {probe} is percent-encoded" FAILED "/cfg/a%2Bb%2Fc/twamp_global_config.json: HTTP 404" \
	same $AUTH "url=$H/cfg/{probe}" "probe=a+b/c"
start_driver g2 "$TMP/d-g2"
printf '{ "SourceName": "kept-locally" }\n' >"$TMP/d-g2/local_config.json"
cp "$TMP/d-g2/local_config.json" "$TMP/local.orig"
run g2 "web: generation 2 (no local_config.json on the server)" UPDATED "" "new:$WWW/cfg/g2" \
	gen=2 $AUTH url=$H/cfg/g2
if cmp -s "$TMP/d-g2/local_config.json" "$TMP/local.orig"; then
	ok "web: generation 2: the installed local_config.json is kept"
else
	ko "web: generation 2: the installed local_config.json is kept"
fi
put "$WWW/cfg/g2/local_config.json" '{ "SourceName": "from-server", "Latitude": 999 }'
run g2 "web: generation 2: invalid local_config.json" FAILED "local_config.json: Latitude" same \
	gen=2 $AUTH url=$H/cfg/g2
put "$WWW/cfg/g2/local_config.json" '{ "SourceName": "from-server" }'
run g2 "web: generation 2 with local_config.json" UPDATED "" "new:$WWW/cfg/g2" gen=2 $AUTH url=$H/cfg/g2

# --- git ---------------------------------------------------------------------------------
G=git://127.0.0.1:$GP/cfg.git
start_driver git "$TMP/d-git" config_example/seed-git
run git "git: first clone (git://, ConfigPath {probe})" UPDATED "" "new:$WORK/p1" method=git url=$G \
	"path={probe}" probe=p1
if [ "$(git -C "$TMP/d-git/repo" rev-parse --is-bare-repository 2>/dev/null)" = true ] &&
	[ ! -e "$TMP/d-git/repo/.git" ] && [ ! -e "$TMP/d-git/repo/p1" ] &&
	[ "$(git -C "$TMP/d-git/repo" rev-parse HEAD 2>/dev/null)" = "$(git -C "$WORK" rev-parse HEAD)" ]; then
	ok "git: DIR/repo is a bare repository (no work tree) with HEAD at the commit"
else
	ko "git: DIR/repo is a bare repository (no work tree) with HEAD at the commit"
fi
if same_files "$TMP/d-git/config.old" config_example/seed-git twamp_global_config.json twamp_targets_list.json; then
	ok "git: config.old/ holds the previous pair"
else
	ko "git: config.old/ holds the previous pair"
fi
run git "git: unchanged" UNCHANGED "" same method=git url=$G "path={probe}" probe=p1
targets g1-a g1-b g1-c >"$WORK/p1/twamp_targets_list.json"
git_q commit -qam "p1: a third target" && git_q push -q origin main
run git "git: new commit" UPDATED "" "new:$WORK/p1" method=git url=$G "path={probe}" probe=p1
targets g2-a g2-b >"$WORK/p2/twamp_targets_list.json"
git_q commit -qam "p2 only" && git_q push -q origin main
run git "git: new commit touching another probe only" UNCHANGED "" same method=git url=$G \
	"path={probe}" probe=p1
git_q reset -q --hard HEAD~2
targets g1-rewritten >"$WORK/p1/twamp_targets_list.json"
git_q commit -qam "rewritten history" && git_q push -q -f origin main
run git "git: force-push rewriting history" UPDATED "" "new:$WORK/p1" method=git url=$G \
	"path={probe}" probe=p1
if [ "$(git -C "$TMP/d-git/repo" rev-parse HEAD 2>/dev/null)" = "$(git -C "$WORK" rev-parse HEAD)" ]; then
	ok "git: HEAD follows the rewritten commit"
else
	ko "git: HEAD follows the rewritten commit"
fi
printf '{ "Targets": [ { "IP": "192.0.2.1", "DSC' >"$WORK/p1/twamp_targets_list.json"
git_q commit -qam "truncated" && git_q push -q origin main
run git "git: truncated JSON committed" FAILED \
	"\(branch main, commit [0-9a-f]{7}\): twamp_targets_list.json: not valid JSON" same \
	method=git url=$G "path={probe}" probe=p1
run git "git: the same bad commit again" FAILED "not valid JSON" same method=git url=$G \
	"path={probe}" probe=p1
# hostile symlinks point inside $TMP only (the test runs as root): never at a host file
VICTIM=$TMP/victim
echo "victim: no fetch may write here" >"$VICTIM"
VICTIM_SUM=$(sha256sum <"$VICTIM")
victim_check() { # DESCRIPTION
	if [ "$(sha256sum <"$VICTIM" 2>/dev/null)" = "$VICTIM_SUM" ]; then
		ok "$1: the symlink's target is unchanged"
	else
		ko "$1: the symlink's target $VICTIM was written"
	fi
}
rm "$WORK/p1/twamp_targets_list.json"
ln -s "$VICTIM" "$WORK/p1/twamp_targets_list.json"
git_q add -A && git_q commit -qm "a symlink" && git_q push -q origin main
run git "git: a symlink in the repository" FAILED \
	"p1/twamp_targets_list.json: not a regular file \(a symbolic link\)" same \
	method=git url=$G "path={probe}" probe=p1
victim_check "git: a symlink in the repository"
rm "$WORK/p1/twamp_targets_list.json"
targets g1-fixed >"$WORK/p1/twamp_targets_list.json"
git_q add -A && git_q commit -qm "fixed" && git_q push -q origin main
run git "git: fixed" UPDATED "" "new:$WORK/p1" method=git url=$G "path={probe}" probe=p1
victim_check "git: a regular file replacing the symlink"
run git "git: missing ConfigPath directory" FAILED "nope/twamp_global_config.json: not in the repository" \
	same method=git url=$G path=nope
run git "git: connection refused" FAILED "127.0.0.1 port $DEADP: Connection refused" same \
	method=git url=git://127.0.0.1:$DEADP/cfg.git "path={probe}" probe=p1
run git "git: timeout (server never answers)" FAILED "timed out" same \
	method=git url=git://127.0.0.1:$HANGP/cfg.git "path={probe}" probe=p1
if [ "$ELAPSED" -ge 2500 ] && [ "$ELAPSED" -lt 8000 ]; then
	ok "git: the timeout took ${ELAPSED} ms"
else
	ko "git: the timeout took ${ELAPSED} ms"
fi
run git "git: http timeout (server never answers)" FAILED "timed out: no data" same \
	method=git url=http://127.0.0.1:$HANGP/cfg.git
run git "git: https timeout (no TLS handshake)" FAILED "timed out: no data" same \
	method=git url=https://127.0.0.1:$HANGP/cfg.git
run git "git: no such repository" FAILED "nope.git" same method=git url=git://127.0.0.1:$GP/nope.git
run git "git: ssh is refused at once (it would have no timeout)" FAILED "ssh is not supported" same \
	method=git url=ssh://git@127.0.0.1:$HANGP/cfg.git

# --- git: hostile repositories (nothing of the tree is written to disk) -----------------------
# Commits made with plumbing in $WORK and force-pushed to branches of $BARE;
# every symlink points inside $TMP.
gw() { git -C "$WORK" "$@" 2>>"$TMP/git.log"; }
P1TREE=$(gw rev-parse main:p1)
no_work_tree() { # DESCRIPTION DIR: nothing of a repository's tree under DIR
	local n
	n=$(find "$2" \( -name p1 -o -name x -o -name pwn -o -type l -o -path '*/big/*' \) | wc -l)
	if [ "$n" -eq 0 ]; then
		ok "$1: no work tree under the data directory"
	else
		ko "$1: $n paths of the repository's tree under $2: $(find "$2" \( -name p1 -o -name x -o -type l \) | head -3 | tr '\n' ' ')"
	fi
}
# hostile_ab NAME DESC URL [KEY=VALUE...]: commit A has x -> $TMP/outside-NAME,
# force-pushed commit B has x/ holding x/pwn: nothing may appear in outside-NAME
hostile_ab() {
	local name=$1 desc=$2 url=$3 out=$TMP/outside-$1 ta tb ca cb
	shift 3
	mkdir -p "$out"
	ta=$(printf '040000 tree %s\tp1\n120000 blob %s\tx\n' "$P1TREE" \
		"$(printf '%s' "$out" | gw hash-object -w --stdin)" | gw mktree)
	ca=$(gw commit-tree -m "A: x is a symlink" "$ta")
	gw push -q -f origin "$ca:refs/heads/hostile-$name"
	start_driver "$name" "$TMP/d-$name" config_example/seed-git
	run "$name" "$desc: commit A (x -> outside)" UPDATED "" "new:$WORK/p1" method=git url="$url" \
		branch="hostile-$name" path=p1 "$@"
	tb=$(printf '040000 tree %s\tp1\n040000 tree %s\tx\n' "$P1TREE" \
		"$(printf '100644 blob %s\tpwn\n' "$(echo pwned | gw hash-object -w --stdin)" | gw mktree)" |
		gw mktree)
	cb=$(gw commit-tree -m "B: x is a directory" "$tb")
	gw push -q -f origin "$cb:refs/heads/hostile-$name"
	run "$name" "$desc: force-pushed commit B (x/pwn)" UNCHANGED "" same method=git url="$url" \
		branch="hostile-$name" path=p1 "$@"
	if [ -z "$(ls -A "$out")" ]; then
		ok "$desc: nothing written outside the data directory"
	else
		ko "$desc: the fetch wrote $(ls -A "$out" | tr '\n' ' ')into $out"
	fi
	if [ "$(git -C "$TMP/d-$name/repo" rev-parse HEAD 2>/dev/null)" = "$cb" ]; then
		ok "$desc: HEAD at commit B"
	else
		ko "$desc: HEAD is not at commit B"
	fi
	no_work_tree "$desc" "$TMP/d-$name"
}
hostile_ab hgit "git: git:// symlink then directory" "$G"

# 100,000 files in big/ (five nested levels of ten): fetched, never written
t=$(printf '100644 blob %s\tf%d\n' $(for i in 0 1 2 3 4 5 6 7 8 9; do echo "$(echo x | gw hash-object -w --stdin) $i"; done) | gw mktree)
for _ in 1 2 3 4; do
	t=$(for i in 0 1 2 3 4 5 6 7 8 9; do printf '040000 tree %s\td%d\n' "$t" "$i"; done | gw mktree)
done
cbig=$(gw commit-tree -m "100,000 files" "$(printf '040000 tree %s\tbig\n040000 tree %s\tp1\n' "$t" "$P1TREE" | gw mktree)")
gw push -q -f origin "$cbig:refs/heads/big"
start_driver big "$TMP/d-big" config_example/seed-git
run big "git: a tree of 100,000 files" UPDATED "" "new:$WORK/p1" method=git url=$G branch=big path=p1
nfiles=$(find "$TMP/d-big" -type f | wc -l)
if [ "$nfiles" -lt 200 ]; then
	ok "git: a tree of 100,000 files: $nfiles files in the data directory ($(du -sk "$TMP/d-big" | cut -f1) KB)"
else
	ko "git: a tree of 100,000 files: $nfiles files in the data directory"
fi
no_work_tree "git: a tree of 100,000 files" "$TMP/d-big"

# a submodule (gitlink) as the targets file: refused by name, the installed pair stays
csub=$(gw commit-tree -m "submodule" "$(printf '040000 tree %s\tp1\n' "$(printf '100644 blob %s\ttwamp_global_config.json\n160000 commit %s\ttwamp_targets_list.json\n' \
	"$(gw rev-parse main:p1/twamp_global_config.json)" "$cbig" | gw mktree)" | gw mktree)")
gw push -q -f origin "$csub:refs/heads/big"
run big "git: a submodule as the targets file" FAILED \
	"p1/twamp_targets_list.json: not a regular file \(a submodule\)" same method=git url=$G \
	branch=big path=p1
no_work_tree "git: a submodule as the targets file" "$TMP/d-big"

start_driver file "$TMP/d-file" config_example/seed-git
run file "git: file:// and ConfigBranch" UPDATED "" "new:$WORK/p2" method=git url=file://$BARE \
	branch=cfg path=p2
run file "git: file:// unchanged" UNCHANGED "" same method=git url=file://$BARE branch=cfg path=p2
git -C "$BARE" branch -D cfg >>"$TMP/git.log" 2>&1
run file "git: branch deleted" FAILED "branch 'cfg' not found on the remote" same method=git \
	url=file://$BARE branch=cfg path=p2
git -C "$BARE" symbolic-ref HEAD refs/heads/gone
run file "git: remote HEAD points to a deleted branch" FAILED "no default branch" same method=git \
	url=file://$BARE path=p2
git -C "$BARE" symbolic-ref HEAD refs/heads/main

if [ -n "$HAVE_FCGI" ]; then
	GH=http://127.0.0.1:$HP/git/cfg.git
	start_driver ghttp "$TMP/d-ghttp" config_example/seed-git
	run ghttp "git: http-backend with ConfigUser/ConfigPassword" UPDATED "" "new:$WORK/p1" \
		method=git url=$GH user=probe password=$PW path=p1
	run ghttp "git: http-backend wrong password fails fast" FAILED "authentication failed" same \
		method=git url=$GH user=probe password=$BADPW path=p1
	if [ "$ELAPSED" -lt 3000 ]; then ok "git: wrong password gave up in ${ELAPSED} ms"; else ko "git: wrong password took ${ELAPSED} ms"; fi
	run ghttp "git: http-backend without credentials" FAILED "credentials" same method=git url=$GH path=p1
	hostile_ab hhttp "git: http-backend symlink then directory" "$GH" user=probe password=$PW
	run ghttp "git: credentials in the URL" UNCHANGED "" same method=git \
		url=http://probe:$PW@127.0.0.1:$HP/git/cfg.git path=p1
	run ghttp "git: wrong password in the URL is not shown" FAILED "probe:\*\*\*@.*authentication failed" \
		same method=git url=http://probe:$BADPW@127.0.0.1:$HP/git/cfg.git path=p1
	start_driver gtls "$TMP/d-gtls" config_example/seed-git
	run gtls "git: https without the test CA" FAILED "certificate" same method=git \
		url=https://127.0.0.1:$SP/git/cfg.git user=probe password=$PW path=p1
	run gtls "git: https with another CA" FAILED "certificate verify failed with ConfigCAFile" same \
		method=git url=https://127.0.0.1:$SP/git/cfg.git user=probe password=$PW path=p1 \
		ca=$TMP/other.pem
	run gtls "git: https with the test CA (ConfigCAFile)" UPDATED "" "new:$WORK/p1" method=git \
		url=https://127.0.0.1:$SP/git/cfg.git user=probe password=$PW path=p1 ca=$TMP/ca.pem
	run gtls "git: https://localhost with the test CA" UNCHANGED "" same method=git \
		url=https://localhost:$SP/git/cfg.git user=probe password=$PW path=p1 ca=$TMP/ca.pem
	run gtls "git: https ConfigInsecure" UNCHANGED "" same method=git \
		url=https://127.0.0.1:$SP/git/cfg.git user=probe password=$PW path=p1 insecure=1
else
	ko "git http-backend cases: fcgiwrap ($FCGIWRAP) or $HTTP_BACKEND is missing"
fi

# --- drivers exit cleanly (and, with SANITIZE, without reports) ---------------------------------
for name in "${!DPID[@]}"; do
	echo quit >&"${DIN[$name]}"
	exec {DIN[$name]}>&-
	wait "${DPID[$name]}"
	rc=$?
	exec {DOUT[$name]}<&-
	if [ $rc -eq 0 ] && ! grep -q "Sanitizer\|runtime error:" "${DLOG[$name]}"; then
		ok "driver $name exited cleanly"
	else
		ko "driver $name: exit $rc"
		grep -A20 "Sanitizer\|runtime error:" "${DLOG[$name]}" | head -40
	fi
done

echo "($((SECONDS - T0)) s)"
if [ "$skipped" -gt 0 ]; then
	echo "fetch: $pass passed, $fail failed, $skipped skipped"
else
	echo "fetch: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
