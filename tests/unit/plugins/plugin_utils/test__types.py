# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table tests of the strict types (plugins/plugin_utils/_types.py), with every
hostile value of issue 9, and of the role-variable table that drives them."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import yaml
from ansible_collections.halb.pair.plugins.plugin_utils import _types as T

ROOT = Path(__file__).resolve().parents[4]

# The attacks, verbatim.
NGINX_UPSTREAM_ATTACK = (
    "198.51.100.21;\n}\nserver {\n listen 8099;\n location / { root /etc; autoindex on; }\n}\nupstream halb_x {\n server 198.51.100.22"
)
NGINX_LISTEN_ATTACK = "80 reuseport; location /etc { alias /etc/; autoindex on; }  #"
VIP_LABEL_ATTACK = "eth0:1\n        198.51.100.66/24 dev eth0"
ROUTER_ID_ATTACK = "lb1\n    vrrp_strict\n    script_user root"
NON_ASCII_8_CHARS_10_BYTES = "pässwört"

# (type, value, normalised)
GOOD = [
    (T.IPV4_ADDRESS, "198.51.100.10", "198.51.100.10"),
    (T.IPV6_ADDRESS, "2001:DB8:0::10", "2001:db8::10"),
    (T.IP_ADDRESS, "2001:db8::1", "2001:db8::1"),
    (T.IP_PREFIX, "198.51.100.100/24", "198.51.100.100/24"),
    (T.IP_PREFIX, "2001:db8::100/64", "2001:db8::100/64"),
    (T.IP_PREFIX, "198.51.100.100/032", "198.51.100.100/32"),
    (T.PORT, 1, 1),
    (T.PORT, 65535, 65535),
    (T.HOSTNAME, "Web-1.Example.org", "web-1.example.org"),
    (T.HOST, "198.51.100.21", "198.51.100.21"),
    (T.HOST, "[2001:db8::22]", "2001:db8::22"),
    (T.HOST, "backend.example.test", "backend.example.test"),
    (T.SERVER_NAME, "_", "_"),
    (T.SERVER_NAME, "*.example.test", "*.example.test"),
    (T.SERVER_NAME, ".example.test", ".example.test"),
    (T.SERVER_NAMES, "www.example.test example.test", ["www.example.test", "example.test"]),
    (T.SERVER_NAMES, ["a.example.test"], ["a.example.test"]),
    (T.INSTANCE_NAME, "VI_1", "VI_1"),
    (T.INSTANCE_NAME, "web-" + "a" * 27, "web-" + "a" * 27),
    (T.NGINX_NAME, "web_2", "web_2"),
    (T.INTERFACE, "eth0", "eth0"),
    (T.INTERFACE, "enp0s31f6.100", "enp0s31f6.100"),
    (T.INTERFACE, "a" * 15, "a" * 15),
    (T.INTERFACE_LABEL, "eth0:1", "eth0:1"),
    (T.INTERFACE_LABEL, "enp0s31f6ab:10", "enp0s31f6ab:10"),
    (T.interface_label("eth0"), "eth0:vip", "eth0:vip"),
    (T.ROUTER_ID, "lb1", "lb1"),
    (T.ROUTER_ID, "lb_1.dc-2", "lb_1.dc-2"),
    (T.ROUTER_ID, 123, "123"),
    (T.EMAIL, "ops+halb@example.org", "ops+halb@example.org"),
    (T.EMAIL, "keepalived@lb_1", "keepalived@lb_1"),
    (T.URL, "http://127.0.0.1:8081/healthz", "http://127.0.0.1:8081/healthz"),
    (T.URL, "https://[::1]:8443/health?full=1&x=%20", "https://[::1]:8443/health?full=1&x=%20"),
    (T.URL, "http://localhost", "http://localhost"),
    (T.URI_PATH, "/healthz", "/healthz"),
    (T.ABS_PATH, "/var/lib/halb-pair/drain", "/var/lib/halb-pair/drain"),
    (T.NGINX_ACCESS_LOG, "off", "off"),
    (T.NGINX_ERROR_LOG, "stderr", "stderr"),
    (T.NGINX_WORKER_PROCESSES, "auto", "auto"),
    (T.NGINX_WORKER_PROCESSES, 4, 4),
    (T.DURATION, "5s", "5s"),
    (T.DURATION, "100ms", "100ms"),
    (T.DURATION, "1m", "1m"),
    (T.DURATION, "1h30m", "1h30m"),
    (T.DURATION, "10", "10s"),
    (T.DURATION, 30, "30s"),
    (T.DURATION, "1d2h3m4s5ms", "1d2h3m4s5ms"),
    (T.DURATION_S, "10s", "10s"),
    (T.DURATION_S, "1m30s", "1m30s"),
    (T.SIZE, "512k", "512k"),
    (T.SIZE, "1M", "1M"),
    (T.SIZE, 1024, "1024"),
    (T.integer(1, 1000), 1000, 1000),
    (T.ADVERT_INT_V2, 1, 1),
    (T.ADVERT_INT_V2, 255, 255),
    (T.ADVERT_INT_V2, 2.0, 2),
    (T.ADVERT_INT_V3, 0.01, 0.01),
    (T.ADVERT_INT_V3, 0.1, 0.1),
    (T.ADVERT_INT_V3, 40.95, 40.95),
    (T.ADVERT_INT_V3, 1, 1),
    (T.TRACK_WEIGHT, -253, -253),
    (T.TRACK_WEIGHT, 253, 253),
    (T.TRACK_WEIGHT, 0, 0),
    (T.LISTEN_HTTP, "80", "80"),
    (T.LISTEN_HTTP, 8081, "8081"),
    (T.LISTEN_HTTP, "198.51.100.100:80", "198.51.100.100:80"),
    (T.LISTEN_HTTP, "[::]:8000 default_server", "[::]:8000 default_server"),
    (T.LISTEN_HTTP, "[2001:DB8::1]:80", "[2001:db8::1]:80"),
    (T.LISTEN_HTTP, "*:80 reuseport backlog=511", "*:80 reuseport backlog=511"),
    (T.LISTEN_HTTP, "80 default_server proxy_protocol bind", "80 default_server proxy_protocol bind"),
    (T.LISTEN_STREAM, "5353 udp", "5353 udp"),
    (T.LISTEN_STREAM, "[::1]:5353 udp reuseport bind", "[::1]:5353 udp reuseport bind"),
    (T.LISTEN_STREAM, "5432 proxy_protocol backlog=511", "5432 proxy_protocol backlog=511"),
    (T.HASH_KEY_HTTP, "$request_uri", "$request_uri"),
    (T.HASH_KEY_HTTP, "$binary_remote_addr", "$binary_remote_addr"),
    (T.HASH_KEY_HTTP, "$host$request_uri", "$host$request_uri"),
    (T.HASH_KEY_HTTP, "$cookie_session:$remote_addr", "$cookie_session:$remote_addr"),
    (T.HASH_KEY_STREAM, "$remote_addr", "$remote_addr"),
    (T.NEXT_UPSTREAM, "error timeout http_502", "error timeout http_502"),
    (T.NEXT_UPSTREAM, "off", "off"),
    (T.AUTH_PASS, "s3cr3t@", "s3cr3t@"),
    (T.AUTH_PASS, "a", "a"),
    (T.AUTH_PASS, "12345678", "12345678"),
    (T.AUTH_PASS, "~%&()*+,", "~%&()*+,"),
    (T.USER_NAME, "keepalived_script", "keepalived_script"),
    (T.BOOL, False, False),
    (T.STATE, "BACKUP", "BACKUP"),
    (T.optional(T.AUTH_PASS), None, None),
]


@pytest.mark.parametrize(("ty", "value", "expected"), GOOD, ids=lambda x: x.name if isinstance(x, T.Type) else repr(x)[:40])
def test_accepts_and_normalises(ty, value, expected):
    got = ty(value)
    assert got == expected
    assert type(got) is type(expected)


# (type, value, words the message must hold besides the value)
BAD = [
    # addresses
    (T.IPV4_ADDRESS, "2001:db8::1", "IPv6"),
    (T.IPV4_ADDRESS, "198.51.100.300", ""),
    (T.IPV4_ADDRESS, "198.051.100.1", ""),
    (T.IPV4_ADDRESS, " 198.51.100.1", ""),
    (T.IPV4_ADDRESS, 3325256714, "int"),
    (T.IPV6_ADDRESS, "fe80::1%eth0\n}", "zone"),
    (T.IP_PREFIX, "198.51.100.100", "no /prefix"),
    (T.IP_PREFIX, "198.51.100.100/33", ""),
    (T.IP_PREFIX, "198.51.100.100/255.255.255.0", "number of bits"),
    (T.IP_PREFIX, "198.51.100.100/24 dev eth0", ""),
    # ports and integers
    (T.PORT, 0, "out of range"),
    (T.PORT, 65536, "out of range"),
    (T.PORT, True, "bool"),
    (T.PORT, "80", "a string"),
    (T.PORT, 80.0, "float"),
    (T.integer(1, 300), "3", "-e"),  # -e keepalived_check_timeout=3
    (T.TRACK_WEIGHT, -254, "out of range"),
    (T.TRACK_WEIGHT, 254, "out of range"),
    # names
    (T.HOSTNAME, "-web.example", ""),
    (T.HOSTNAME, "web_1.example", ""),
    (T.HOSTNAME, "a" * 64 + ".example", ""),
    (T.HOSTNAME, "198.51.100.300", "all digits"),
    (T.HOST, NGINX_UPSTREAM_ATTACK, ""),
    (T.HOST, "198.51.100.21:8080", ""),
    (T.HOST, "backend.example\n", ""),
    (T.SERVER_NAME, "~^(?<name>.+)\\.example\\.net$", "regular expressions are refused"),
    (T.SERVER_NAME, "example.test; return 200", ""),
    (T.SERVER_NAMES, "a.example.test  b.example.test", "single spaces"),
    (T.SERVER_NAMES, "a.example.test\tb.example.test", ""),
    (T.SERVER_NAMES, [], "empty"),
    (T.INSTANCE_NAME, "VI/1", ""),
    (T.INSTANCE_NAME, ".hidden", ""),
    (T.INSTANCE_NAME, "../VI_1", ""),
    (T.INSTANCE_NAME, "1VI", ""),
    (T.INSTANCE_NAME, "V" * 33, ""),
    (T.INSTANCE_NAME, "VI_1 {", ""),
    (T.NGINX_NAME, "web;", ""),
    (T.INTERFACE, "eth0/1", ""),
    (T.INTERFACE, "eth0:1", ""),
    (T.INTERFACE, "eth 0", ""),
    (T.INTERFACE, "..", ""),
    (T.INTERFACE, "a" * 16, "16 bytes, more than 15"),
    (T.INTERFACE, "ethé0000000000", "15 bytes"[:0]),
    (T.INTERFACE_LABEL, VIP_LABEL_ATTACK, "more than 15"),
    (T.INTERFACE_LABEL, "enp0s31f6abcd:10", "16 bytes, more than 15"),
    (T.INTERFACE_LABEL, "eth0", ""),
    (T.INTERFACE_LABEL, "eth0:1:2", ""),
    (T.INTERFACE_LABEL, "eth0:1 #", ""),
    (T.interface_label("eth1"), "eth0:1", "does not begin with its device eth1:"),
    (T.ROUTER_ID, ROUTER_ID_ATTACK, ""),
    (T.ROUTER_ID, "lb1 #", ""),
    (T.ROUTER_ID, "", ""),
    (T.EMAIL, "ops@example.org\n    smtp_server 198.51.100.99", ""),
    (T.EMAIL, "ops@@example.org", ""),
    (T.EMAIL, "o{p}s@example.org", ""),
    (T.EMAIL, "ops#x@example.org", ""),
    (T.USER_NAME, "root\n", ""),
    # URLs and paths
    (T.URL, "ftp://127.0.0.1/healthz", "not http(s)"),
    (T.URL, "http://127.0.0.1:8081/healthz -o /etc/passwd", "no whitespace"),
    (T.URL, 'http://127.0.0.1/"', "quotes"),
    (T.URL, "http://127.0.0.1/x;y", "';'"),
    (T.URL, "http://127.0.0.1/#frag", "'#'"),
    (T.URL, "http://127.0.0.1/{x}", "braces"),
    (T.URL, "http://user@127.0.0.1/", "'@'"),
    (T.URL, "http://127.0.0.1:0/", "port"),
    (T.URL, "http://127.0.0.1/%zz", "hex"),
    (T.URI_PATH, "healthz", ""),
    (T.URI_PATH, "/healthz {", ""),
    (T.URI_PATH, "/h+z", ""),  # the nginx preflight and the pair model both refuse it (one type)
    (T.ABS_PATH, "relative/path", ""),
    (T.ABS_PATH, "/run/nginx.pid;\nuser root", ""),
    (T.ABS_PATH, "/var/lib/$x", ""),
    (T.NGINX_ERROR_LOG, "syslog:server=198.51.100.9", ""),
    # durations and sizes
    (T.DURATION, "5 s", ""),
    (T.DURATION, "5s;", ""),
    (T.DURATION, "30m1h", ""),
    (T.DURATION, "soon", ""),
    (T.DURATION, "0s", "above 0"),
    (T.DURATION, "", ""),
    (T.DURATION, "25d", "at most"),
    (T.DURATION, True, "bool"),
    (T.DURATION_S, "100ms", "no 'ms'"),
    (T.SIZE, "1t", ""),
    (T.SIZE, "1m;", ""),
    # keepalived
    (T.ADVERT_INT_V2, 0.5, "whole seconds"),
    (T.ADVERT_INT_V2, 256, "out of range"),
    (T.ADVERT_INT_V2, 0, "out of range"),
    (T.ADVERT_INT_V2, "1", "str"),
    (T.ADVERT_INT_V3, 0.005, "hundredths"),
    (T.ADVERT_INT_V3, 41, "out of range"),
    (T.ADVERT_INT_V3, 0, "out of range"),
    (T.ADVERT_INT_V3, True, "bool"),
    (T.STATE, "master", ""),
    (T.BOOL, "false", "-e"),
    (T.BOOL, 0, "int"),
    # nginx listen, hash_key, next_upstream
    (T.LISTEN_HTTP, NGINX_LISTEN_ATTACK, ""),
    (T.LISTEN_HTTP, "80 reuseport;", "not an allowed parameter"),
    (T.LISTEN_HTTP, "80;", ""),
    (T.LISTEN_HTTP, "80\n", ""),
    (T.LISTEN_HTTP, "80 ssl", "give the server a tls: mapping, the role adds ssl"),
    (T.LISTEN_HTTP, "80 http2", "http2 is on by default there"),
    (T.LISTEN_HTTP, "80 udp", "not an allowed parameter"),
    (T.LISTEN_HTTP, "80 reuseport reuseport", "twice"),
    (T.LISTEN_HTTP, "80 backlog=0", "backlog=N"),
    (T.LISTEN_HTTP, "0", "out of 1..65535"),
    (T.LISTEN_HTTP, "70000", "out of 1..65535"),
    (T.LISTEN_HTTP, "198.51.100.100:0", "out of 1..65535"),
    (T.LISTEN_HTTP, "localhost:80", "address part"),
    (T.LISTEN_HTTP, "unix:/run/x.sock", "address part"),
    (T.LISTEN_HTTP, "2001:db8::1:80", "address part"),
    (T.LISTEN_HTTP, "[198.51.100.1]:80", "IPv4"),
    (T.LISTEN_STREAM, "53 default_server", "not an allowed parameter"),
    (T.LISTEN_STREAM, "53 udp proxy_protocol", "proxy_protocol cannot be used with udp"),
    (T.LISTEN_STREAM, "53 backlog=511 udp", "backlog cannot be used with udp"),
    (T.HASH_KEY_HTTP, "$remote_addr;\n    server 198.51.100.66", ""),
    (T.HASH_KEY_HTTP, "$request_uri consistent", ""),
    (T.HASH_KEY_HTTP, "remote_addr", ""),
    (T.HASH_KEY_HTTP, "$document_root", ""),
    (T.HASH_KEY_HTTP, "$a$b$c$d$e", ""),
    (T.HASH_KEY_STREAM, "$request_uri", ""),
    (T.NEXT_UPSTREAM, "error; proxy_pass http://evil", ""),
    (T.NEXT_UPSTREAM, "error  timeout", ""),
    (T.NEXT_UPSTREAM, "error error", ""),
    (T.NEXT_UPSTREAM, "error off", ""),
]


@pytest.mark.parametrize(("ty", "value", "why"), BAD, ids=lambda x: x.name if isinstance(x, T.Type) else repr(x)[:40])
def test_refuses_with_a_clear_message(ty, value, why):
    with pytest.raises(T.TypeCheckError) as info:
        ty(value, "some_var", "lb1")
    msg = str(info.value)
    assert msg.startswith("some_var on lb1: found ")
    assert repr(value)[:100] in msg
    assert f"; allowed: {ty.allowed}" in msg
    assert why in msg
    assert "\n" not in msg, "one line per problem (the value is shown escaped)"


# auth_pass: the passwords; the message never holds the password.
AUTH_BAD = [
    ("ab#cdefg", "comment"),
    ("ab cdefg", "whitespace"),
    ("ab!cdefg", "comment"),
    (NON_ASCII_8_CHARS_10_BYTES, "10 bytes"),
    ("ab\"cdefg", "quote"),
    ("ab{cdefg", "block"),
    ("abcdef\\", "\\"),
    ("ab$cdefg", "substitution"),
    ("abcdefghi", "9 bytes"),
    ("", "empty"),
    ("ab\tc", "whitespace"),
    ("ab\nvrrp", "whitespace"),
]


@pytest.mark.parametrize(("password", "why"), AUTH_BAD)
def test_auth_pass_refused_and_never_shown(password, why):
    assert len(NON_ASCII_8_CHARS_10_BYTES) == 8 and len(NON_ASCII_8_CHARS_10_BYTES.encode()) == 10
    with pytest.raises(T.TypeCheckError) as info:
        T.AUTH_PASS(password, "keepalived_auth_pass", "lb1")
    msg = str(info.value)
    assert why in msg
    assert msg.startswith("keepalived_auth_pass on lb1: found <secret of ")
    if password:
        assert password not in msg and repr(password) not in msg
    problems = T.check_role_vars("keepalived", "lb1", {"keepalived_auth_pass": password})
    assert len(problems) == 1 and why in problems[0]
    assert not password or password not in problems[0]


# TLS material (issue 19): what each field must hold, and no message ever quotes either.
def _pem_cases():
    from tests.helpers.tls import encrypted_key, self_signed

    cert, key = self_signed()
    chain = cert + self_signed("ca.example.test")[0]
    rsa_cert, rsa_key = self_signed("rsa.example.test", "rsa", "traditional")
    ec_params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    ec_key = self_signed("ec.example.test", "ec", "traditional")[1]
    encrypted_rsa = rsa_key.replace("-----BEGIN RSA PRIVATE KEY-----\n",
                                    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n")
    good = [(T.PEM_CERTIFICATE, cert), (T.PEM_CERTIFICATE, chain), (T.PEM_CERTIFICATE, rsa_cert.replace("\n", "\r\n")),
            (T.PEM_PRIVATE_KEY, key), (T.PEM_PRIVATE_KEY, rsa_key), (T.PEM_PRIVATE_KEY, ec_params + ec_key),
            (T.PEM_PRIVATE_KEY, "\n" + key + "\n\n")]
    bad = [
        (T.PEM_CERTIFICATE, cert + key, "it holds a private key, and the certificate file is world-readable"),
        (T.PEM_CERTIFICATE, key, "it holds a private key"),
        (T.PEM_CERTIFICATE, "", "empty"),
        (T.PEM_CERTIFICATE, "subject=CN = www\n" + cert, "text outside the PEM blocks"),
        (T.PEM_CERTIFICATE, cert.replace("-----END CERTIFICATE-----", ""), "text outside the PEM blocks"),
        (T.PEM_CERTIFICATE, cert.replace("-----END CERTIFICATE-----", "-----END X509 CRL-----"), "a CERTIFICATE block ends as X509 CRL"),
        (T.PEM_CERTIFICATE, cert.replace("MII", "M I I", 1), "not base64"),
        (T.PEM_CERTIFICATE, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "blocks other than"),
        (T.PEM_PRIVATE_KEY, cert, "the blocks CERTIFICATE: exactly one private key block"),
        (T.PEM_PRIVATE_KEY, key + key, "the blocks PRIVATE KEY, PRIVATE KEY: exactly one"),
        (T.PEM_PRIVATE_KEY, key + cert, "exactly one private key block"),
        (T.PEM_PRIVATE_KEY, encrypted_key(), "an encrypted key: nginx would ask for its passphrase"),
        (T.PEM_PRIVATE_KEY, encrypted_rsa, "an encrypted key (Proc-Type headers)"),
        (T.PEM_PRIVATE_KEY, "hunter2", "text outside the PEM blocks"),
        (T.PEM_PRIVATE_KEY, 12345, "a int, not a string"),
    ]
    return good, bad


PEM_GOOD, PEM_BAD = _pem_cases()


@pytest.mark.parametrize(("ty", "value"), PEM_GOOD, ids=lambda x: x.name if isinstance(x, T.Type) else None)
def test_pem_accepted(ty, value):
    assert ty(value) == value


@pytest.mark.parametrize(("ty", "value", "why"), PEM_BAD, ids=lambda x: x.name if isinstance(x, T.Type) else repr(x)[:30])
def test_pem_refused_and_never_shown(ty, value, why):
    with pytest.raises(T.TypeCheckError) as info:
        ty(value, "tls.key", "lb1")
    msg = str(info.value)
    assert why in msg
    assert msg.startswith("tls.key on lb1: found <secret of " if isinstance(value, str) else "tls.key on lb1: found <secret of type")
    for line in str(value).splitlines():
        if len(line.strip()) > 8 and not line.startswith("-----"):
            assert line.strip() not in msg, "a line of the PEM text is in the message"


def test_a_tls_mapping_given_as_a_string_is_not_quoted():
    from tests.helpers.tls import self_signed

    key = self_signed()[1]
    (msg,) = T.check_role_vars("nginx", "lb1", {"nginx_lb_servers": [{"upstream": "web", "tls": key}]})
    assert msg.startswith(f"nginx_lb_servers[0] (web).tls on lb1: found <secret of {len(key)} characters")
    assert key.splitlines()[1] not in msg


def test_auth_pass_number_is_refused_as_not_a_string():
    # YAML `keepalived_auth_pass: 12345678` is an int: quote it.
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_auth_pass": 12345678})
    assert "int, not a string" in msg and "12345678" not in msg


# --------------------------------------------------------------------------
# check_role_vars: the inventories, message by message

def test_nginx_upstream_address_injection_is_refused():
    problems = T.check_role_vars("nginx", "lb1", {
        "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": NGINX_UPSTREAM_ATTACK}]}]})
    assert problems == [
        f"nginx_lb_upstreams[0] (web).servers[0].address on lb1: found {NGINX_UPSTREAM_ATTACK!r}; allowed: {T.HOST.allowed}"]


def test_nginx_listen_injection_is_refused():
    problems = T.check_role_vars("nginx", "lb2", {"nginx_lb_servers": [{"upstream": "web", "listen": [NGINX_LISTEN_ATTACK]}]})
    assert len(problems) == 1
    assert problems[0].startswith(f"nginx_lb_servers[0] (web).listen[0] on lb2: found {NGINX_LISTEN_ATTACK!r}")


@pytest.mark.parametrize(("key", "value"), [
    ("proxy_read_timeout", "60s;\n    autoindex on"),
    ("proxy_connect_timeout", "2s; root /etc"),
    ("proxy_send_timeout", "1m }"),
    ("proxy_next_upstream", "error; autoindex on"),
    ("server_name", "example.test;\n    location /etc { alias /etc/; }"),
    ("server_name", ["ok.example.test", "x { }"]),
])
def test_raw_nginx_server_values_are_typed(key, value):
    (msg,) = T.check_role_vars("nginx", "lb1", {"nginx_lb_servers": [{"upstream": "web", key: value}]})
    assert msg.startswith(f"nginx_lb_servers[0] (web).{key}")


@pytest.mark.parametrize(("key", "value"), [
    ("hash_key", "$remote_addr;\n    server 198.51.100.66:80"),
    ("keepalive", "32;\n    server 198.51.100.66:80"),
    ("keepalive", "32"),
    ("hash_consistent", "yes"),
])
def test_raw_nginx_upstream_values_are_typed(key, value):
    (msg,) = T.check_role_vars("nginx", "lb1", {"nginx_lb_upstreams": [
        {"name": "web", "method": "hash", "servers": [{"address": "198.51.100.21"}], key: value}]})
    assert msg.startswith(f"nginx_lb_upstreams[0] (web).{key} on lb1: found {value!r}")


@pytest.mark.parametrize(("key", "value"), [
    ("weight", "3 down"), ("weight", 0), ("weight", True), ("max_fails", "1;"), ("fail_timeout", "5s max_conns=1"),
    ("fail_timeout", "100ms"), ("port", "80"), ("port", 0), ("backup", "true"),
])
def test_raw_upstream_server_values_are_typed(key, value):
    (msg,) = T.check_role_vars("nginx", "lb1", {"nginx_lb_upstreams": [
        {"name": "web", "servers": [{"address": "198.51.100.21", key: value}]}]})
    assert msg.startswith(f"nginx_lb_upstreams[0] (web).servers[0] (198.51.100.21).{key} on lb1: found {value!r}")


def test_streams_are_typed_and_need_listen():
    problems = T.check_role_vars("nginx", "lb1", {"nginx_lb_streams": [
        {"name": "pg", "servers": [{"address": "198.51.100.21", "port": 5432}], "hash_key": "$request_uri",
         "proxy_timeout": "10m;"}]})
    assert problems == [
        "nginx_lb_streams[0] (pg) on lb1: the key 'listen' is missing; it is required",
        f"nginx_lb_streams[0] (pg).hash_key on lb1: found '$request_uri'; allowed: {T.HASH_KEY_STREAM.allowed}",
        f"nginx_lb_streams[0] (pg).proxy_timeout on lb1: found '10m;'; allowed: {T.DURATION.allowed}",
    ]


def test_unknown_keys_are_refused_not_ignored():
    problems = T.check_role_vars("nginx", "lb1", {"nginx_lb_upstreams": [
        {"name": "web", "servers": [{"address": "198.51.100.21", "wieght": 3}]}]})
    assert problems == ["nginx_lb_upstreams[0] (web).servers[0] (198.51.100.21) on lb1: unknown key 'wieght'; "
                        "allowed keys: address, port, weight, max_fails, fail_timeout, backup, down"]
    problems = T.check_role_vars("keepalived", "lb2", {"keepalived_instance_overrides": {"VI_1": {"priorty": 120}}})
    assert problems == ["keepalived_instance_overrides.VI_1 on lb2: unknown key 'priorty'; allowed keys: priority, state"]


def test_vip_label_injection_is_refused():
    problems = T.check_role_vars("keepalived", "lb1", {
        "keepalived_vips": [{"address": "198.51.100.100/24", "dev": "eth0", "label": VIP_LABEL_ATTACK}]})
    assert len(problems) == 1
    assert problems[0].startswith(f"keepalived_vips[0].label on lb1: found {VIP_LABEL_ATTACK!r} (40 bytes, more than 15")


def test_vip_label_must_begin_with_its_dev():
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_vips": [{"address": "198.51.100.100/24", "dev": "eth1",
                                                                          "label": "eth0:1"}]})
    assert "does not begin with its device eth1:" in msg


def test_router_id_newline_is_refused():
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_router_id": ROUTER_ID_ATTACK})
    assert msg.startswith(f"keepalived_router_id on lb1: found {ROUTER_ID_ATTACK!r}; allowed: ")


def test_check_timeout_string_is_refused_with_a_hint():
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_check_timeout": "3"})
    assert msg == ("keepalived_check_timeout on lb1: found '3' (a string, not an integer; with -e pass JSON, "
                   "e.g. -e '{\"name\": 3}'); allowed: an integer within 1..300")


@pytest.mark.parametrize(("hv", "ok"), [
    ({"keepalived_advert_int": 0.005, "keepalived_vrrp_version": 3}, False),
    ({"keepalived_advert_int": 0.01, "keepalived_vrrp_version": 3}, True),
    ({"keepalived_advert_int": 0.1}, False),  # VRRPv2 by default
    ({"keepalived_advert_int": 0.1, "keepalived_vips": ["2001:db8::100/64"]}, True),  # IPv6 means VRRPv3
    ({"keepalived_advert_int": 100, "keepalived_vips": ["2001:db8::100/64"]}, False),
    ({"keepalived_advert_int": 100}, True),
    ({"keepalived_advert_int": "1"}, False),
])
def test_advert_int_by_version(hv, ok):
    assert (T.check_role_vars("keepalived", "lb1", hv) == []) is ok


@pytest.mark.parametrize("name", ["VI/1", ".VI_1", "a/../../etc"])
def test_custom_instance_names_with_slash_or_leading_dot(name):
    problems = T.check_role_vars("keepalived", "lb1", {"keepalived_instances": [
        {"name": name, "master": "lb1", "vips": ["198.51.100.100/24"]}]})
    assert len(problems) == 1 and problems[0].startswith("keepalived_instances[0]")
    assert f"name on lb1: found {name!r}" in problems[0]


def test_notification_values_are_typed():
    problems = T.check_role_vars("keepalived", "lb1", {
        "keepalived_notification_email": ["ops@example.org", "x@example.org\n    smtp_server 198.51.100.99"],
        "keepalived_notification_email_from": "k@lb1 }",
        "keepalived_smtp_server": "198.51.100.25 25",
        "keepalived_check_url": "http://127.0.0.1:8081/healthz\" ; x \"",
    })
    assert [m.split(" on ")[0] for m in problems] == [
        "keepalived_check_url", "keepalived_notification_email[1]", "keepalived_notification_email_from",
        "keepalived_smtp_server"]


# --------------------------------------------------------------------------
# check_derived: values the topology generates

def _inst(**over):
    base = {"name": "VI_1", "vrid": 55, "version": 2, "advert_int": 1.0, "unicast": False,
            "vips": [{"cidr": "198.51.100.100/24", "dev": "eth0", "label": "eth0:1"}],
            "nodes": [{"host": "lb1", "interface": "eth0", "state": "MASTER", "priority": 150}]}
    return {**base, **over}


def test_check_derived_accepts_the_guide():
    assert T.check_derived([_inst(), _inst(name="VI_2", vrid=56)]) == []


def test_check_derived_generated_labels_over_15_bytes():
    # dual_master with 10 VIPs on a long NIC name: the 10th generated label has 16 bytes.
    nic = "enp0s31f6abcd"
    insts = [_inst(name=f"VI_{i}", vrid=54 + i, vips=[{"cidr": f"198.51.100.{99 + i}/24", "dev": nic, "label": f"{nic}:{i}"}],
                   nodes=[{"host": "lb1", "interface": nic, "state": "MASTER", "priority": 150}]) for i in range(1, 11)]
    problems = T.check_derived(insts)
    assert len(problems) == 1
    assert problems[0].startswith(f"instance VI_10: VIP 1 label: found '{nic}:10' (16 bytes, more than 15")


def test_check_derived_duplicate_names_and_bad_values():
    problems = T.check_derived([_inst(), _inst(vrid=56, advert_int=0.005, version=3)])
    assert problems == [
        "instance VI_1: name 'VI_1' is used by more than one instance; instance names must be unique",
        f"instance VI_1: advert_int: found 0.005 (VRRPv3 counts hundredths of a second); allowed: {T.ADVERT_INT_V3.allowed}",
    ]


# --------------------------------------------------------------------------
# The table covers every value the templates render, and the defaults are typed

TEMPLATES = {
    "keepalived": sorted((ROOT / "roles" / "keepalived" / "templates").rglob("*.j2")),
    "nginx": sorted((ROOT / "roles" / "nginx" / "templates").rglob("*.j2")),
}
PREFIX = {"keepalived": "keepalived_", "nginx": "nginx_lb_"}


def _rendered_vars(role: str) -> set[str]:
    names: set[str] = set()
    for p in TEMPLATES[role]:
        names |= set(re.findall(rf"\b({PREFIX[role]}[a-z0-9_]+)", p.read_text()))
    return names


@pytest.mark.parametrize("role", ["keepalived", "nginx"])
def test_every_variable_a_template_reads_has_a_type(role):
    table = {path.split("[")[0].split(".")[0] for path, _ in T.table(role)}
    missing = sorted(n for n in _rendered_vars(role) if n not in table)
    assert missing == [], f"rendered by a template but not typed: {missing}"


@pytest.mark.parametrize("role", ["keepalived", "nginx"])
def test_every_default_is_typed_or_named_not_rendered(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    table = {path.split("[")[0].split(".")[0] for path, _ in T.table(role)}
    assert sorted(n for n in defaults if n not in table and n not in T.NOT_RENDERED) == []
    assert sorted(n for n in T.NOT_RENDERED if n.startswith(PREFIX[role]) and n not in defaults) == []


# Attributes the nginx macros read from each item, e.g. `s.weight`, `u.keepalive`.
_ITEMS = {"s": ("nginx_lb_upstreams", "servers"), "u": ("nginx_lb_upstreams",), "srv": ("nginx_lb_servers",),
          "st": ("nginx_lb_streams",)}


def test_every_item_key_the_macros_read_has_a_type():
    text = "\n".join(p.read_text() for p in TEMPLATES["nginx"])
    for var, (top, *sub) in _ITEMS.items():
        spec = T.NGINX_VARS[top].item
        for k in sub:
            spec = spec.fields[k].item
        read = set(re.findall(rf"\b{var}\.([a-z_]+)", text)) - {"startswith"}
        assert read, var
        assert sorted(read - set(spec.fields)) == [], f"{top}{''.join('[].' + k for k in sub)}: untyped keys"
    # stream items share the upstream server record
    assert T.NGINX_VARS["nginx_lb_streams"].item.fields["servers"].item is T.NGINX_VARS["nginx_lb_upstreams"].item.fields[
        "servers"].item


def _defaults(role: str) -> dict:
    raw = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    env = jinja2.Environment()
    ctx = {"inventory_hostname": "lb1.example.test", "inventory_hostname_short": "lb1", **raw}
    out = {}
    for k, v in raw.items():
        if isinstance(v, str) and "{{" in v:
            rendered = env.from_string(v).render(ctx)
            v = int(rendered) if rendered.isdigit() else rendered  # Ansible's native types
        out[k] = v
    return out


@pytest.mark.parametrize("role", ["keepalived", "nginx"])
def test_role_defaults_are_of_their_types(role):
    assert T.check_role_vars(role, "lb1", _defaults(role)) == []


@pytest.mark.parametrize("inv", ["inventories/single", "inventories/dual_master", "lab/inventory"])
def test_example_inventories_are_typed(inv):
    gv = yaml.safe_load((ROOT / inv / "group_vars" / "lb.yml").read_text())
    gv = {k: v for k, v in gv.items() if "{{" not in yaml.safe_dump(v)}  # templated ones need Ansible (render tests)
    assert gv
    for role in ("keepalived", "nginx"):
        assert T.check_role_vars(role, "lb1", gv) == []


def test_table_lists_paths_and_types():
    rows = dict(T.table("nginx"))
    assert rows["nginx_lb_upstreams[].servers[].address"] == "host"
    assert rows["nginx_lb_servers[].listen"] == "list of listen_http"
    rows = dict(T.table("keepalived"))
    assert rows["keepalived_vips[].label"] == "interface_label or null"
    assert rows["keepalived_auth_pass"] == "auth_pass or null"
    assert rows["keepalived_advert_int"].startswith("advert_int_v2 or advert_int_v3")


def test_check_role_vars_knows_its_roles():
    with pytest.raises(KeyError):
        T.check_role_vars("web", "lb1", {})


def test_a_label_without_dev_begins_with_the_node_interface():
    hv = {"keepalived_interface": "ens3", "keepalived_vips": [{"address": "198.51.100.100/24", "label": "eth0:1"}]}
    (msg,) = T.check_role_vars("keepalived", "lb1", hv)
    assert msg.startswith("keepalived_vips[0].label on lb1: found 'eth0:1' (it does not begin with its device ens3:)")
    assert T.check_role_vars("keepalived", "lb1", {**hv, "keepalived_vips": [{"address": "198.51.100.100/24", "label": "ens3:1"}]}) == []


def test_check_hosts_lists_every_host_in_order():
    hostvars = {"lb1": {"keepalived_router_id": "a b"}, "lb2": {"keepalived_router_id": "c;"}, "lb3": {}}
    problems = T.check_hosts("keepalived", ["lb1", "lb2", "lb3"], hostvars)
    assert [p.split(":")[0] for p in problems] == ["keepalived_router_id on lb1", "keepalived_router_id on lb2"]


def test_docs_types_md_is_the_table():
    from tests.helpers.types_doc import render

    assert (ROOT / "docs" / "types.md").read_text() == render(), "regenerate: python -m tests.helpers.types_doc > docs/types.md"


# Ansible (2.19+) hands templates and filters subclasses of the builtin types (tagged
# strings and ints, lazy lists and dicts): the types must treat them as what they are.
class TaggedStr(str):
    pass


class TaggedInt(int):
    pass


class LazyList(list):
    pass


class LazyDict(dict):
    pass


def test_ansible_tagged_and_lazy_values_are_their_builtin_types():
    hv = LazyDict({
        "keepalived_topology": TaggedStr("dual_master"), "keepalived_vrrp_version": TaggedInt(3),
        "keepalived_advert_int": TaggedInt(1), "keepalived_check_timeout": TaggedInt(3),
        "keepalived_vips": LazyList([TaggedStr("198.51.100.100/24"), LazyDict({"address": TaggedStr("198.51.100.101/24")})]),
    })
    assert T.check_role_vars("keepalived", "lb1", hv) == []
    hv = {"nginx_lb_upstreams": LazyList([LazyDict({"name": TaggedStr("web"), "method": TaggedStr("hash"),
                                                    "hash_key": TaggedStr("$request_uri"),
                                                    "servers": LazyList([LazyDict({"address": TaggedStr("198.51.100.21"),
                                                                                   "port": TaggedInt(8080)})])})]),
          "nginx_lb_health_listen": TaggedInt(8081)}
    assert T.check_role_vars("nginx", "lb1", hv) == []
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_check_timeout": TaggedStr("3")})
    assert "(a string, not an integer;" in msg
    (msg,) = T.check_role_vars("keepalived", "lb1", {"keepalived_unicast": LazyList()})
    assert "(a list)" in msg
    assert T.choice(2, 3)(TaggedInt(2)) == 2 and type(T.choice(2, 3)(TaggedInt(2))) is int
    with pytest.raises(T.TypeCheckError):
        T.choice(1, 2)(True)
