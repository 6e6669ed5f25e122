# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One row per rule of the nginx preflight (the Jinja asserts it replaces, with their
texts), the refusals tests/render/test_nginx.py shows through the role, and the
setups the render tests deploy, which must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.halb.pair.plugins.plugin_utils import _nginx_preflight
from ansible_collections.halb.pair.plugins.plugin_utils._nginx_preflight import check, listen_port

from tests.helpers.tls import encrypted_key, self_signed

ROLE = Path(__file__).resolve().parents[4] / "roles" / "nginx"
OPTIONS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
# What the host sees: the defaults templated ("{{ nginx_lb_health_port }}" renders as the int).
DEFAULTS["nginx_lb_health_listen"] = DEFAULTS["nginx_lb_health_port"]

WEB2 = [{"address": "198.51.100.21"}, {"address": "198.51.100.22"}]
CERT, KEY = self_signed()
CERT2, KEY2 = self_signed("api.example.test")
RSA_KEY = self_signed("rsa.example.test", "rsa", "traditional")[1]


def tls(**kw):
    return {"name": "www", "certificate": CERT, "key": KEY, **kw}


GZIP_ON = {"name": "gzip", "value": "on"}
GOOD = {"nginx_lb_upstreams": [{"name": "web", "servers": WEB2}], "nginx_lb_servers": [{"upstream": "web"}]}


def values(**overrides):
    return {**DEFAULTS, **GOOD, **overrides}


# The variables of every setup the render tests deploy (tests/render/test_nginx.py CASES, STREAM_CASE).
ACCEPTED = [
    pytest.param({}, id="rr_single"),
    pytest.param({"nginx_lb_upstreams": [{
        "name": "app", "method": "least_conn", "keepalive": 32,
        "servers": [
            {"address": "198.51.100.21", "port": 8080, "weight": 3, "max_fails": 2, "fail_timeout": "5s"},
            {"address": "198.51.100.22", "port": 8080, "weight": 1},
            {"address": "198.51.100.23", "port": 8080, "backup": True},
            {"address": "198.51.100.24", "port": 8080, "down": True},
        ]}], "nginx_lb_servers": [{"upstream": "app", "server_name": "app.example.test"}]}, id="least_conn"),
    pytest.param({"nginx_lb_upstreams": [{"name": "sticky", "method": "ip_hash", "servers": [
        {"address": "198.51.100.21"}, {"address": "198.51.100.22", "down": True}]}],
        "nginx_lb_servers": [{"upstream": "sticky"}]}, id="ip_hash"),
    pytest.param({"nginx_lb_upstreams": [
        {"name": "cache", "method": "hash", "hash_key": "$request_uri", "hash_consistent": True,
         "servers": [{"address": "198.51.100.21", "port": 8080}, {"address": "2001:db8::22", "port": 8080}]},
        {"name": "plain", "method": "hash", "hash_key": "$remote_addr", "servers": WEB2}],
        "nginx_lb_servers": [{"upstream": "cache", "listen": ["8080"]}, {"upstream": "plain", "listen": ["8090"]}]}, id="hash_key"),
    pytest.param({"nginx_lb_servers": [
        {"upstream": "web", "listen": ["198.51.100.100:80", "198.51.100.101:80"], "server_name": ["www.example.test", "example.test"],
         "proxy_next_upstream": "error timeout", "proxy_connect_timeout": "1s", "proxy_read_timeout": "5s", "proxy_send_timeout": "7s"},
        {"upstream": "web", "listen": ["8000 default_server", "[::]:8000 default_server"]}],
        "nginx_lb_proxy_read_timeout": "30s", "nginx_lb_health_port": 9000, "nginx_lb_health_listen": "9000",
        "nginx_lb_health_path": "/hc"}, id="vip_listens"),
    pytest.param({"nginx_lb_streams": [
        {"name": "pg", "listen": ["5432"], "method": "hash", "hash_key": "$remote_addr",
         "servers": [{"address": "198.51.100.21", "port": 5432}, {"address": "198.51.100.22", "port": 5432}]},
        {"name": "dns", "listen": ["198.51.100.100:5353", "5354"], "method": "least_conn", "proxy_timeout": "30s",
         "servers": [{"address": "198.51.100.21", "port": 53, "max_fails": 1}, {"address": "198.51.100.22", "port": 53, "backup": True}],
         "directives": [{"name": "tcp_nodelay", "value": "off"}, {"name": "proxy_buffer_size", "value": "32k"}]}]},
        id="streams"),
    pytest.param({"nginx_lb_servers": [], "nginx_lb_upstreams": [], "nginx_lb_streams": [
        {"name": "pg", "listen": ["5432"], "servers": [{"address": "198.51.100.21", "port": 5432}]}]}, id="streams-only"),
    # nginx's stub_status page on the health listen (null, the default, is no page)
    pytest.param({"nginx_lb_status_path": "/nginx_status"}, id="status-path"),
    pytest.param({"nginx_lb_status_path": None}, id="status-path-null"),
    # directives the role does not model (tests/render/test_nginx.py "directives")
    pytest.param({"nginx_lb_http_directives": [{"name": "client_max_body_size", "value": "10m"},
                                               {"name": "server_names_hash_bucket_size", "value": 128}],
                  "nginx_lb_servers": [{"upstream": "web", "directives": [
                      {"name": "client_max_body_size", "value": "20m"},
                      {"name": "add_header", "value": 'Strict-Transport-Security "max-age=63072000" always'},
                      {"name": "add_header", "value": "X-Frame-Options 'SAMEORIGIN' always"},
                      {"name": "proxy_set_header", "value": 'Accept-Encoding ""'}]}],
                  "nginx_lb_streams": [{"name": "pg", "listen": ["5432"], "servers": [{"address": "198.51.100.21", "port": 5432}],
                                        "directives": [{"name": "tcp_nodelay", "value": "on"}]}]}, id="directives"),
    # TLS termination (tests/render/test_nginx.py TLS_CASE)
    pytest.param({"nginx_lb_servers": [
        {"upstream": "web", "server_name": "www.example.test", "listen": ["198.51.100.100:443"], "tls": tls(redirect_http=True)},
        {"upstream": "web", "server_name": "www.example.test", "listen": ["198.51.100.101:443"], "tls": tls(http2=False)},
        {"upstream": "web", "listen": ["8443"], "tls": {"name": "api", "certificate": CERT2, "key": KEY2, "redirect_http": True}},
        {"upstream": "web", "listen": ["8080"]}]}, id="tls"),
    # Extra vars and INI inventories give strings: converted as Ansible's own validation does.
    pytest.param({"nginx_lb_health_port": "9000", "nginx_lb_worker_connections": "512", "nginx_lb_nonlocal_bind": "no",
                  "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": "8080"}]}]},
                 id="strings-from-extra-vars"),
]


@pytest.mark.parametrize("overrides", ACCEPTED)
def test_accepted(overrides):
    assert check("lb1", values(**overrides), OPTIONS) == []


# Values that would become nginx structure if pasted into `name value;` (what each would do), each
# refused by the directive value's type: (value, why it is refused).
HOSTILE_DIRECTIVE_VALUES = [
    ("1; } server {", "holds ';'"),  # ends the directive and the server, opens a new one
    ("1m; location /etc { alias /etc/; autoindex on; }", "holds ';'"),  # adds a location serving /etc
    ("10m\n    include /etc/passwd", "holds '\\n'"),  # a second directive on the next line
    ("10m\rinclude /x", "holds '\\r'"),
    ("on #", "holds '#'"),  # comments out the ';': the next line joins the directive
    ("x {", "holds '{'"),
    ("}", "holds '}'"),
    ("10m\\", "holds '\\\\'"),  # escapes the ';': the next line joins the directive
    ('"10m', 'an unterminated " quote'),  # swallows ';' and the following lines up to the next quote
    ("X-A 'a b", "an unterminated ' quote"),
    ('a"b', "a quote inside a word"),
    ('"a"b', "a quoted word is followed by a space"),
    ("", "empty"),
    (" 10m", "single spaces"),
    ("10m ", "single spaces"),
    ("a  b", "single spaces"),
    ("a\tb", "holds '\\t'"),
    ("a\u2028b", "holds '\\u2028'"),  # a line separator (not one for nginx, but one for many readers)
    ("a\x00b", "holds '\\x00'"),
]


@pytest.mark.parametrize(("value", "why"), HOSTILE_DIRECTIVE_VALUES, ids=[repr(item[0]) for item in HOSTILE_DIRECTIVE_VALUES])
@pytest.mark.parametrize("where", ["http", "server", "stream"])
def test_a_hostile_directive_value_is_refused_naming_the_item(where, value, why):
    item = {"name": "client_max_body_size", "value": value}
    if where == "http":
        overrides, path = {"nginx_lb_http_directives": [{"name": "gzip", "value": "on"}, item]}, "nginx_lb_http_directives[1]"
    elif where == "server":
        overrides, path = {"nginx_lb_servers": [{"upstream": "web", "directives": [item]}]}, "nginx_lb_servers[0] (web).directives[0]"
    else:
        overrides = {"nginx_lb_streams": [{"name": "pg", "listen": ["5432"], "servers": WEB2, "directives": [item]}]}
        path = "nginx_lb_streams[0] (pg).directives[0]"
    errors = check("lb1", values(**overrides), OPTIONS)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path} (client_max_body_size).value on lb1: found {value!r} ("), errors
    assert why in errors[0], errors


def test_the_issues_example_is_refused():
    # `client_max_body_size 1; } server {;` would close the server and open another
    (error,) = check("lb1", values(nginx_lb_servers=[{"upstream": "web", "directives": [
        {"name": "client_max_body_size", "value": "1; } server {"}]}]), OPTIONS)
    assert error.startswith("nginx_lb_servers[0] (web).directives[0] (client_max_body_size).value on lb1: found '1; } server {' "
                            "(holds ';', which nginx reads as structure")


# (overrides, the exact message) one row per rule; the first rows are test_nginx.py's PREFLIGHT_BAD.
REFUSED = [
    pytest.param({"nginx_lb_servers": [{"upstream": "nope"}]},
                 "nginx_lb_servers entry _ on lb1 references upstream 'nope'. Allowed: one of the names in nginx_lb_upstreams (web).",
                 id="bad_upstream_ref"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "servers": WEB2}, {"name": "web", "servers": WEB2}]},
                 "nginx_lb_upstreams on lb1 names more than one entry web; every name must be unique.", id="dup_names"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "method": "hash", "servers": WEB2}]},
                 "nginx_lb_upstreams entry web on lb1: method=hash hash_key=(none) servers=2. Allowed: method one of "
                 "round_robin, least_conn, hash, ip_hash; hash needs a non-empty hash_key; at least one server; "
                 "backup servers only with round_robin or least_conn.", id="hash_no_key"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "servers": []}]},
                 "nginx_lb_upstreams entry web on lb1: method=round_robin hash_key=(none) servers=0. Allowed: method one of "
                 "round_robin, least_conn, hash, ip_hash; hash needs a non-empty hash_key; at least one server; "
                 "backup servers only with round_robin or least_conn.", id="no_servers"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 70000}]}]},
                 "nginx_lb_upstreams entry web on lb1 has a server with address=198.51.100.21 port=70000. "
                 "Allowed: a non-empty address and an integer port in 1..65535.", id="bad_port"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["198.51.100.100:0"]}]},
                 "nginx_lb_servers on lb1 has listen '198.51.100.100:0' (port '0'). Allowed: PORT, ADDRESS:PORT or "
                 "[IPV6]:PORT with PORT in 1..65535, optionally followed by parameters.", id="bad_listen"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "method": "ip_hash", "servers": [{"address": "198.51.100.21", "backup": True}]}]},
                 "nginx_lb_upstreams entry web on lb1: method=ip_hash hash_key=(none) servers=1. Allowed: method one of "
                 "round_robin, least_conn, hash, ip_hash; hash needs a non-empty hash_key; at least one server; "
                 "backup servers only with round_robin or least_conn.", id="backup_ip_hash"),
    # the other rules
    pytest.param({"nginx_lb_servers": [], "nginx_lb_streams": []},
                 "nginx_lb_servers and nginx_lb_streams are both empty on lb1: define at least one HTTP server or one TCP stream.",
                 id="nothing-to-balance"),
    pytest.param({"nginx_lb_streams": [{"name": "s", "listen": ["1"], "servers": WEB2}, {"name": "s", "listen": ["2"], "servers": WEB2}]},
                 "nginx_lb_streams on lb1 names more than one entry s; every name must be unique.", id="dup-stream-names"),
    pytest.param({"nginx_lb_streams": [{"name": "s", "listen": ["5432"], "method": "ip_hash", "servers": WEB2}]},
                 "nginx_lb_streams[0].method on lb1: found 'ip_hash' (str); allowed: one of round_robin, least_conn, hash",
                 id="ip-hash-in-stream"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "method": "hash", "hash_key": "", "servers": WEB2}]},
                 "nginx_lb_upstreams entry web on lb1: method=hash hash_key= servers=2.", id="hash-key-empty"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "method": "hash", "hash_key": "$remote_addr",
                                          "servers": [{"address": "198.51.100.21", "backup": True}]}]},
                 "nginx_lb_upstreams entry web on lb1: method=hash hash_key=$remote_addr servers=1.", id="backup-with-hash"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "", "port": 80}]}]},
                 "nginx_lb_upstreams entry web on lb1 has a server with address= port=80.", id="address-empty"),
    pytest.param({"nginx_lb_streams": [{"name": "s", "listen": ["5432"], "servers": [{"address": "198.51.100.21", "port": 0}]}]},
                 "nginx_lb_streams entry s on lb1 has a server with address=198.51.100.21 port=0.", id="stream-port-0"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["[::]:65536 default_server"]}]},
                 "nginx_lb_servers on lb1 has listen '[::]:65536 default_server' (port '65536').", id="listen-ipv6-above-range"),
    pytest.param({"nginx_lb_health_listen": "127.0.0.1:http"},
                 "nginx_lb_health_listen on lb1 has listen '127.0.0.1:http' (port 'http').", id="health-listen-not-a-port"),
    pytest.param({"nginx_lb_streams": [{"name": "s", "listen": [], "servers": WEB2}]},
                 "nginx_lb_streams on lb1 has listen '' (port '').", id="stream-without-listen"),
    pytest.param({"nginx_lb_health_path": "healthz"},
                 "nginx_lb_health_path on lb1 is 'healthz'. Allowed: a path beginning with '/', of letters, digits and "
                 ". _ ~ / - (keepalived requests it).", id="health-path-relative"),
    pytest.param({"nginx_lb_health_path": "/h;x"}, "nginx_lb_health_path on lb1 is '/h;x'.", id="health-path-semicolon"),
    pytest.param({"nginx_lb_health_path": "/healthz\n"}, "nginx_lb_health_path on lb1 is '/healthz\n'.", id="health-path-newline"),
    # one type for the path (_types.URI_PATH): the pair model refuses it too (test__pair.py)
    pytest.param({"nginx_lb_health_path": "/h+z"}, "nginx_lb_health_path on lb1 is '/h+z'.", id="health-path-plus"),
    # the stub_status page: a second exact location of the health server
    pytest.param({"nginx_lb_status_path": "/healthz"},
                 "nginx_lb_status_path on lb1 is '/healthz', the health path too. "
                 "Allowed: null (no status page) or another path than nginx_lb_health_path.", id="status-path-is-health-path"),
    pytest.param({"nginx_lb_status_path": "/hc", "nginx_lb_health_path": "/hc"},
                 "nginx_lb_status_path on lb1 is '/hc', the health path too.", id="status-path-is-custom-health-path"),
    pytest.param({"nginx_lb_status_path": "nginx_status"},
                 "nginx_lb_status_path on lb1: found 'nginx_status'; allowed: a path beginning with '/', of letters, digits "
                 "and . _ ~ / -, or null (unset)", id="status-path-relative"),
    pytest.param({"nginx_lb_status_path": "/s { return 200; } location = /x"},
                 "nginx_lb_status_path on lb1: found '/s { return 200; } location = /x'; allowed:", id="status-path-injection"),
    pytest.param({"nginx_lb_status_path": "/status\n"}, "nginx_lb_status_path on lb1: found '/status\\n';", id="status-path-newline"),
    pytest.param({"nginx_lb_status_path": ["/nginx_status"]},
                 "nginx_lb_status_path on lb1: found ['/nginx_status'] (list); allowed: a string", id="type-status-path-list"),
    # directives: names, shapes and the directives the role writes itself
    pytest.param({"nginx_lb_http_directives": [{"name": "Client_max_body_size", "value": "1m"}]},
                 "nginx_lb_http_directives[0] (Client_max_body_size).name on lb1: found 'Client_max_body_size'; allowed: a directive "
                 "name: a lower-case letter, then up to 63 lower-case letters, digits or '_'", id="directive-name-upper"),
    pytest.param({"nginx_lb_http_directives": [{"name": "gzip on;\nuser", "value": "root"}]},
                 "nginx_lb_http_directives[0].name on lb1: found 'gzip on;\\nuser'; allowed: a directive name", id="directive-name-injection"),
    pytest.param({"nginx_lb_http_directives": [{"name": "_x", "value": "1"}]},
                 "nginx_lb_http_directives[0] (_x).name on lb1: found '_x';", id="directive-name-underscore-first"),
    pytest.param({"nginx_lb_http_directives": [{"name": "gzip"}]},
                 "nginx_lb_http_directives[0].value on lb1: missing; allowed: any value (required)", id="directive-value-missing"),
    pytest.param({"nginx_lb_http_directives": [{"name": "gzip", "value": True}]},
                 "nginx_lb_http_directives[0] (gzip).value on lb1: found True (a bool: YAML reads on, off, yes and no unquoted as "
                 "one; quote the value ('on'))", id="directive-value-bool"),
    pytest.param({"nginx_lb_http_directives": [{"name": "gzip", "value": ["on"]}]},
                 "nginx_lb_http_directives[0] (gzip).value on lb1: found ['on'] (a list, not a string)", id="directive-value-list"),
    pytest.param({"nginx_lb_http_directives": {"client_max_body_size": "1m"}},
                 "nginx_lb_http_directives on lb1: found {'client_max_body_size': '1m'} (dict); allowed: a list", id="directives-mapping"),
    pytest.param({"nginx_lb_http_directives": [{"name": "gzip", "value": "on", "context": "http"}]},
                 "nginx_lb_http_directives[0] on lb1: unknown key(s) context; allowed: name, value", id="directive-unknown-key"),
    pytest.param({"nginx_lb_http_directives": [{"name": "access_log", "value": "off"}]},
                 "nginx_lb_http_directives[0] (access_log) on lb1: the role writes access_log itself. Allowed: a directive the "
                 "role does not write; set nginx_lb_access_log instead.", id="directive-modeled-http"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "directives": [GZIP_ON, {"name": "listen", "value": "8099"}]}]},
                 "nginx_lb_servers[0] (web).directives[1] (listen) on lb1: the role writes listen itself. Allowed: a directive "
                 "the role does not write; set the server's listen instead.", id="directive-modeled-server-listen"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "directives": [{"name": "server_name", "value": "x.example.test"}]}]},
                 "nginx_lb_servers[0] (web).directives[0] (server_name) on lb1: the role writes server_name itself.",
                 id="directive-modeled-server-name"),
    pytest.param({"nginx_lb_streams": [{"name": "pg", "listen": ["5432"], "servers": WEB2,
                                        "directives": [{"name": "proxy_pass", "value": "198.51.100.23:5432"}]}]},
                 "nginx_lb_streams[0] (pg).directives[0] (proxy_pass) on lb1: the role writes proxy_pass itself. Allowed: a "
                 "directive the role does not write; set the stream's servers instead.", id="directive-modeled-stream"),
    # TLS: listens, one pair per name, plain and TLS apart, the redirect's port 80 free
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["443 ssl"]}]},
                 "nginx_lb_servers[0] (web).listen[0] on lb1: found '443 ssl' ('ssl' is refused: give the server a tls: mapping",
                 id="tls-ssl-in-listen"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "directives": [{"name": "ssl_certificate", "value": "/etc/ssl/x.pem"}]}]},
                 "nginx_lb_servers[0] (web).directives[0] (ssl_certificate) on lb1: the role writes ssl_certificate itself. "
                 "Allowed: a directive the role does not write; set the server's tls instead.", id="tls-ssl-certificate-directive"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["198.51.100.100:443"], "tls": tls()},
                                       {"upstream": "api", "listen": ["198.51.100.101:443"], "tls": tls(certificate=CERT2, key=KEY2)}],
                  "nginx_lb_upstreams": [{"name": "web", "servers": WEB2}, {"name": "api", "servers": WEB2}]},
                 "nginx_lb_servers[1] (api) on lb1: tls.name www is also the name of nginx_lb_servers[0] (web)'s certificate and "
                 "key, and these differ. Allowed: one name per certificate and key (the files are named after it).", id="tls-name-two-pairs"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "tls": tls(key=KEY2)}]},
                 "nginx_lb_servers[0] (web) on lb1: tls.key (www) is not the private key of the first certificate in "
                 "tls.certificate. Allowed: the key of the server's certificate, the certificate first in the chain.",
                 id="tls-key-of-another-certificate"),
    # nginx -t takes a key of another type than the certificate's (OpenSSL files it apart): the preflight does not
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "tls": tls(key=RSA_KEY)}]},
                 "nginx_lb_servers[0] (web) on lb1: tls.key (www) is not the private key", id="tls-key-of-another-type"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "tls": tls(certificate=CERT2 + CERT)}]},
                 "nginx_lb_servers[0] (web) on lb1: tls.key (www) is not the private key of the first certificate",
                 id="tls-chain-in-the-wrong-order"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["80"], "tls": tls(redirect_http=True)}]},
                 "nginx_lb_servers[0] (web) on lb1 has tls.redirect_http and the TLS listen '80' on port 80, where the redirect "
                 "listens. Allowed: redirect_http with TLS listens on other ports.", id="tls-redirect-on-80"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": ["8443"]}, {"upstream": "web", "listen": ["*:8443"], "tls": tls()}]},
                 "nginx_lb_servers[1] (web) on lb1 listens on *:8443 with TLS, nginx_lb_servers[0] (web) without: nginx would "
                 "make that port TLS for both. Allowed: plain and TLS servers on different ports or addresses.", id="tls-and-plain-one-port"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "tls": tls()}], "nginx_lb_health_listen": "443"},
                 "nginx_lb_servers[0] (web) on lb1 listens on *:443 with TLS, nginx_lb_health_listen without:", id="tls-on-the-health-port"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web"}, {"upstream": "web", "tls": tls(redirect_http=True)}]},
                 "nginx_lb_servers[1] (web)'s redirect_http on lb1 listens on *:80 for _, as nginx_lb_servers[0] (web) does: nginx "
                 "would answer only one of them. Allowed: the redirect's port 80 free of other servers with the same server_name.",
                 id="tls-redirect-clash"),
    # types, from meta/argument_specs.yml, before the rules
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "method": "random", "servers": WEB2}]},
                 "nginx_lb_upstreams[0].method on lb1: found 'random' (str); allowed: one of round_robin, least_conn, ip_hash, hash",
                 id="type-method-choice"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": "eighty"}]}]},
                 "nginx_lb_upstreams[0].servers[0].port on lb1: found 'eighty' (str); allowed: an integer", id="type-port-word"),
    pytest.param({"nginx_lb_worker_connections": True},
                 "nginx_lb_worker_connections on lb1: found True (bool); allowed: an integer", id="type-bool-for-int"),
    pytest.param({"nginx_lb_nonlocal_bind": "maybe"},
                 "nginx_lb_nonlocal_bind on lb1: found 'maybe' (str); allowed: a boolean (true or false)", id="type-bool"),
    pytest.param({"nginx_lb_upstreams": {"name": "web"}},
                 "nginx_lb_upstreams on lb1: found {'name': 'web'} (dict); allowed: a list", id="type-dict-for-list"),
    pytest.param({"nginx_lb_upstreams": [{"name": "web", "server": WEB2, "servers": WEB2}]},
                 "nginx_lb_upstreams[0] on lb1: unknown key(s) server; allowed: hash_consistent, hash_key, keepalive, method, name, servers",
                 id="type-misspelled-key"),
    pytest.param({"nginx_lb_servers": [{"listen": ["80"]}]},
                 "nginx_lb_servers[0].upstream on lb1: missing; allowed: a string (required)", id="type-required-key"),
    pytest.param({"nginx_lb_streams": [{"name": "s", "servers": WEB2}]},
                 "nginx_lb_streams[0].listen on lb1: missing; allowed: a list of a string (required)", id="type-stream-listen-required"),
    pytest.param({"nginx_lb_servers": [{"upstream": "web", "listen": "80"}]},
                 "nginx_lb_servers[0].listen on lb1: found '80' (str); allowed: a list", id="type-listen-str"),
    pytest.param({"nginx_lb_proxy_read_timeout": ["60s"]},
                 "nginx_lb_proxy_read_timeout on lb1: found ['60s'] (list); allowed: a string", id="type-list-for-str"),
]


@pytest.mark.parametrize(("overrides", "message"), REFUSED)
def test_refused(overrides, message):
    errors = check("lb1", values(**overrides), OPTIONS)
    assert any(message in e for e in errors), errors


# TLS material that is not what its field says: refused, and no message holds a line of a key
# (or of a certificate: it may be a key in the wrong field). (tls, fragment of the message)
TLS_REFUSED = [
    pytest.param({"name": "www", "certificate": CERT}, "nginx_lb_servers[0].tls.key on lb1: missing; allowed: a string (required)",
                 id="key-missing"),
    pytest.param(tls(key="hunter2"), "nginx_lb_servers[0] (web).tls (www).key on lb1: found <secret of 7 characters, 7 bytes> "
                 "(text outside the PEM blocks (or a block without its END line)); allowed: PEM text of one unencrypted private key",
                 id="key-not-pem"),
    pytest.param(tls(key=CERT), "tls (www).key on lb1: found <secret of", id="certificate-as-key"),
    pytest.param(tls(certificate=CERT + KEY), "tls (www).certificate on lb1: found <secret of", id="key-in-certificate"),
    pytest.param(tls(certificate=KEY, key=CERT), "(it holds a private key, and the certificate file is world-readable", id="swapped"),
    pytest.param(tls(key=encrypted_key()), "(an encrypted key: nginx would ask for its passphrase at every start)", id="key-encrypted"),
    pytest.param(tls(name="www/../x"), "nginx_lb_servers[0] (web).tls.name on lb1: found 'www/../x'; allowed: a letter, then",
                 id="name-path"),
    pytest.param(tls(http2="maybe"), "nginx_lb_servers[0].tls.http2 on lb1: found 'maybe' (str); allowed: a boolean", id="http2-not-bool"),
    pytest.param(KEY, "nginx_lb_servers[0].tls on lb1: found <secret of", id="tls-is-the-key"),
    pytest.param(tls(extra=KEY), "nginx_lb_servers[0].tls on lb1: unknown key(s) extra; allowed: certificate, http2, key, name, "
                 "redirect_http", id="unknown-key"),
]


@pytest.mark.parametrize(("value", "fragment"), TLS_REFUSED)
def test_tls_refused_and_no_key_in_any_message(value, fragment):
    errors = check("lb1", values(nginx_lb_servers=[{"upstream": "web", "tls": value}]), OPTIONS)
    assert any(fragment in e for e in errors), errors
    text = "\n".join(errors)
    for pem in (KEY, CERT, KEY2):
        for line in pem.splitlines()[1:-1]:
            assert line not in text, "a line of PEM text is in a message"


def test_rule_refuses_ip_hash_in_a_stream_without_the_type_check():
    # the argument spec refuses it first; the rule holds on its own too
    bad = values(nginx_lb_streams=[{"name": "s", "listen": ["5432"], "method": "ip_hash", "servers": WEB2}])
    assert _nginx_preflight.check_rules("lb1", bad) == [
        "nginx_lb_streams entry s on lb1: method=ip_hash hash_key=(none) servers=2. Allowed: method one of "
        "round_robin, least_conn, hash; hash needs a non-empty hash_key; at least one server; "
        "backup servers only with round_robin or least_conn."
    ]


def test_every_problem_is_listed_at_once():
    errors = check("lb1", values(nginx_lb_servers=[{"upstream": "nope", "listen": ["0"]}], nginx_lb_health_path="x"), OPTIONS)
    assert [e.split(" on ")[0] for e in errors] == ["nginx_lb_servers entry _", "nginx_lb_servers", "nginx_lb_health_path"]


def test_types_are_checked_before_the_rules():
    # a wrong type is named as such, not as a broken rule over it
    errors = check("lb1", values(nginx_lb_upstreams=[{"name": "web", "servers": [{"address": "198.51.100.21", "port": "x"}]}]), OPTIONS)
    assert errors == ["nginx_lb_upstreams[0].servers[0].port on lb1: found 'x' (str); allowed: an integer"]


def test_a_stricter_value_check_slots_in():
    def port_below_1024(value):
        return None if value < 1024 else "a port below 1024"

    checks = {"nginx_lb_upstreams[].servers[].port": port_below_1024}
    bad = values(nginx_lb_upstreams=[{"name": "web", "servers": [{"address": "198.51.100.21", "port": "8080"}]}])
    assert check("lb1", bad, OPTIONS, value_checks=checks) == [
        "nginx_lb_upstreams[0].servers[0].port on lb1: found '8080' (str); allowed: a port below 1024"
    ]
    assert check("lb1", bad, OPTIONS) == []
    assert _nginx_preflight.VALUE_CHECKS == {}


@pytest.mark.parametrize(
    ("listen", "port"),
    [("80", "80"), ("198.51.100.100:80", "80"), ("[::]:8000 default_server", "8000"), (8081, "8081"), ("", ""), ("  ", "")],
)
def test_listen_port(listen, port):
    assert listen_port(listen) == port


# (case, health listen, fragment of the refusal)
HEALTH_LISTENS = [
    ("loopback", "127.0.0.1:8081", "nginx_lb_health_listen on lb1 is '127.0.0.1:8081': the peers cannot reach a loopback address"),
    ("IPv6 loopback", "[::1]:8081", "nginx_lb_health_listen on lb1 is '[::1]:8081': the peers cannot reach a loopback address"),
    ("TLS", "8081 ssl", "nginx_lb_health_listen on lb1 is '8081 ssl': the peers and keepalived request plain HTTP"),
]


@pytest.mark.parametrize(("listen", "fragment"), [c[1:] for c in HEALTH_LISTENS], ids=[c[0] for c in HEALTH_LISTENS])
def test_a_health_listen_the_peers_cannot_reach_is_refused(listen, fragment):
    errors = check("lb1", values(nginx_lb_health_listen=listen), OPTIONS)
    assert any(fragment in e and "Allowed: PORT or *:PORT" in e for e in errors), errors


@pytest.mark.parametrize("listen", ["9000", "*:9000", "0.0.0.0:9000", "198.51.100.11:8081", "8081 reuseport"])
def test_a_health_listen_the_peers_can_reach_passes(listen):
    assert check("lb1", values(nginx_lb_health_listen=listen), OPTIONS) == []
