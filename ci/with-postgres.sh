#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster beside it:
#
#   ci/with-postgres.sh COMMAND [ARGS...]
#
# The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port (and on
# a Unix socket in that directory only), runs with synchronous_commit = on, and is
# stopped and deleted when the command ends, whatever its outcome. The command gets
#
#   LNPAYSTORE_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres   (a superuser)
#   LNPAYSTORE_TEST_PG_BIN=<directory of initdb, pg_ctl and postgres>
#   LNPAYSTORE_TEST_PG_DATA=<the cluster's data directory>
#   LNPAYSTORE_TEST_PG_OPTS=<the server options to start it with again (pg_ctl -o)>
#   LNPAYSTORE_TEST_PG_TLS=<a directory: ca.crt, the root of the server's certificate;
#       other-ca.crt, an unrelated root; client.crt and client.key, a client certificate
#       of the role lnpaystore_cert>
#
# The server takes TLS (ssl = on, a throwaway CA and a certificate for localhost and
# 127.0.0.1 made with the openssl tool at start) and plain connections alike; the role
# lnpaystore_cert, if a test creates it, logs in over TLS with its client certificate only.
#
# so that tests can also restart the server (pg_ctl -D "$LNPAYSTORE_TEST_PG_DATA"). When
# LNPAYSTORE_TEST_PG_URL is already set (an outer run of this script, or a server of the
# caller's choosing), the command simply runs with it.
#
# The server refuses to run as root: as root the cluster belongs to the `postgres` system
# user and every server command runs as that user (LNPAYSTORE_TEST_PG_AS names the
# prefix the command can use for its own pg_ctl calls). Where initdb, pg_ctl or postgres
# is missing, Debian's postgresql package is installed with apt-get (root only).
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: ci/with-postgres.sh COMMAND [ARGS...]" >&2
    exit 2
fi

if [ -n "${LNPAYSTORE_TEST_PG_URL:-}" ]; then
    exec "$@"
fi

log() { echo "with-postgres: $*" >&2; }

# The server's binaries: PATH first, then Debian's versioned directories, newest first.
find_bin() {
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
        dirname "$(readlink -f "$(command -v postgres)")"
        return 0
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

if ! bin="$(find_bin)"; then
    if [ "$(id -u)" -ne 0 ]; then
        log "initdb, pg_ctl and postgres are not installed, and only root may install Debian's postgresql package"
        exit 1
    fi
    log "installing Debian's postgresql package"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin="$(find_bin)" || { log "postgresql installed, but its binaries are not found"; exit 1; }
fi

# As root, run the server's commands as the postgres system user.
as=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { log "running as root, but there is no postgres system user"; exit 1; }
    as=(runuser -u postgres --)
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/lnpaystore-pg.XXXXXX")"
data="$dir/data"
started=0
cleanup() {
    local status=$?
    if [ "$started" -eq 1 ]; then
        "${as[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ${#as[@]} -gt 0 ]; then
    chown postgres: "$dir"
fi
chmod 700 "$dir"

"${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    log "initdb failed"
    exit 1
}

# TLS: a throwaway CA, the server's certificate (localhost, 127.0.0.1) and a client's.
if ! command -v openssl >/dev/null && [ "$(id -u)" -eq 0 ]; then
    log "installing Debian's openssl package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2
fi
tls_opts=""
if command -v openssl >/dev/null; then
    tls="$dir/tls"
    mkdir "$tls"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    ca=(-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign)
    signed() { # NAME SUBJECT EXTENSIONS: a key and a certificate signed by ca.crt
        openssl req -new "${ec[@]}" -subj "$2" -keyout "$tls/$1.key" -out "$tls/$1.csr" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" "$3" >"$tls/$1.ext"
        openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
    }
    {
        openssl req -x509 "${ec[@]}" "${ca[@]}" -days 2 -subj "/CN=lnpaystore test CA" \
            -keyout "$tls/ca.key" -out "$tls/ca.crt" &&
            openssl req -x509 "${ec[@]}" "${ca[@]}" -days 2 -subj "/CN=another CA" \
                -keyout "$tls/other-ca.key" -out "$tls/other-ca.crt" &&
            signed server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth" &&
            signed client /CN=lnpaystore_cert "extendedKeyUsage=clientAuth"
    } 2>"$dir/openssl.log" || { cat "$dir/openssl.log" >&2; log "making the TLS certificates failed"; exit 1; }
    chmod 600 "$tls"/*.key
    if [ ${#as[@]} -gt 0 ]; then
        chown postgres: "$tls/server.key" "$tls/server.crt" "$tls/ca.crt"
    fi
    tls_opts=" -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key -c ssl_ca_file=$tls/ca.crt"
    # The certificate's role logs in by its certificate only; everyone else as initdb set.
    sed -i "1i hostssl all lnpaystore_cert 127.0.0.1/32 cert" "$data/pg_hba.conf"
    export LNPAYSTORE_TEST_PG_TLS="$tls"
else
    log "no openssl tool: the cluster runs without TLS (its tests are skipped)"
fi

# A free port: the kernel picks one; another program may take it before the server
# binds it, so a failed start tries again with a new one.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=""
opts=""
for _ in 1 2 3 4 5; do
    port="$(free_port)"
    opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c synchronous_commit=on -c max_connections=200$tls_opts"
    if "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null; then
        started=1
        break
    fi
    "${as[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
done
if [ "$started" -ne 1 ]; then
    cat "$dir/server.log" >&2 || true
    log "the server did not start"
    exit 1
fi

export LNPAYSTORE_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
export LNPAYSTORE_TEST_PG_BIN="$bin"
export LNPAYSTORE_TEST_PG_DATA="$data"
export LNPAYSTORE_TEST_PG_OPTS="$opts"
export LNPAYSTORE_TEST_PG_AS="${as[*]}"
log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $LNPAYSTORE_TEST_PG_URL (data in $data)"

# Not exec: the trap must stop the server when the command ends.
set +e
"$@"
status=$?
set -e
exit "$status"
