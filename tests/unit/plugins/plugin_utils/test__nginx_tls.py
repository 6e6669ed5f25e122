# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx role's TLS plan (plugins/plugin_utils/_nginx_tls.py): file names of the content,
modes, listens and the HTTP/2 form per nginx version, the port-80 redirect."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.filter.nginx_tls import nginx_tls
from ansible_collections.halb.pair.plugins.plugin_utils import _nginx_tls as N

from tests.helpers.tls import self_signed

CERT, KEY = self_signed()
CERT2, KEY2 = self_signed("api.example.test")


def tls(name="www", cert=CERT, key=KEY, **kw):
    return {"name": name, "certificate": cert, "key": key, **kw}


@pytest.mark.parametrize(("text", "version", "directive"), [
    ("nginx version: nginx/1.22.1\n", (1, 22, 1), False),       # Debian 12
    ("nginx version: nginx/1.26.3\n", (1, 26, 3), True),        # Debian 13
    ("nginx version: nginx/1.25.1", (1, 25, 1), True),          # the first with `http2 on`
    ("nginx version: nginx/1.25.0", (1, 25, 0), False),
    ("nginx version: nginx/1.24.0 (Ubuntu)", (1, 24, 0), False),
    ("1.27", (1, 27), True),
    ("", None, False),                                          # not installed yet: the form every version takes
    ("/bin/sh: 1: /usr/sbin/nginx: not found", None, False),
    (None, None, False),
])
def test_the_version_decides_the_http2_form(text, version, directive):
    assert N.nginx_version(text) == version
    assert N.http2_directive(text) is directive


@pytest.mark.parametrize(("listen", "redirect"), [
    ("443", "80"), ("*:443", "*:80"), ("198.51.100.100:443", "198.51.100.100:80"),
    ("198.51.100.100:8443 default_server reuseport", "198.51.100.100:80"), ("[::]:443", "[::]:80"),
    ("[2001:db8::100]:443 bind", "[2001:db8::100]:80"),
])
def test_redirect_listen(listen, redirect):
    assert N.redirect_listen(listen) == redirect


@pytest.mark.parametrize(("listens", "target"), [
    (["443"], "https://$host$request_uri"), (["198.51.100.100:443", "8443"], "https://$host$request_uri"),
    (["198.51.100.100:8443 default_server", "443"], "https://$host:8443$request_uri"),
])
def test_https_target(listens, target):
    assert N.https_target(listens) == target


def test_plan_of_a_tls_server_and_a_plain_one():
    servers = [{"upstream": "web", "listen": ["198.51.100.100:443 default_server", "[::]:443"], "tls": tls(redirect_http=True)},
               {"upstream": "web"}]
    ident = N.material_id(CERT, KEY)
    assert len(ident) == 16 and int(ident, 16) >= 0
    got = N.plan(servers, "/etc/nginx", "nginx version: nginx/1.22.1")
    assert got["servers"] == [
        {"certificate": f"halb-tls/www-{ident}.crt", "key": f"halb-tls/www-{ident}.key",
         "listens": ["198.51.100.100:443 default_server ssl http2", "[::]:443 ssl http2"], "http2_directive": False,
         "redirect": {"listens": ["198.51.100.100:80", "[::]:80"], "target": "https://$host$request_uri"}},
        None,
    ]
    assert got["files"] == [
        {"path": f"/etc/nginx/halb-tls/www-{ident}.crt", "content": CERT, "owner": "root", "group": "root", "mode": "0644"},
        {"path": f"/etc/nginx/halb-tls/www-{ident}.key", "content": KEY, "owner": "root", "group": "root", "mode": "0600",
         "secret": True},
    ]
    assert got["keep"] == [f"www-{ident}.crt", f"www-{ident}.key"]
    assert got["dir"] == "/etc/nginx/halb-tls"


def test_plan_for_nginx_1_25_1_and_later_writes_the_directive():
    got = N.plan([{"upstream": "web", "tls": tls()}, {"upstream": "web", "listen": ["8443"], "tls": tls(http2=False)}],
                 "/etc/nginx", "nginx version: nginx/1.26.3")
    assert [(s["listens"], s["http2_directive"]) for s in got["servers"]] == [(["443 ssl"], True), (["8443 ssl"], False)]
    old = N.plan([{"upstream": "web", "listen": ["8443"], "tls": tls(http2=False)}], "/etc/nginx", "1.22.1")
    assert old["servers"][0]["listens"] == ["8443 ssl"]


def test_a_new_certificate_or_key_gets_new_file_names_the_same_text_the_same():
    one = N.material_id(CERT, KEY)
    assert N.material_id(CERT2, KEY2) != one
    assert N.material_id(CERT, KEY2) != one and N.material_id(CERT2, KEY) != one
    # a block scalar or a lookup('file') (no final newline) of the same PEM: the same files
    assert N.material_id(CERT.rstrip("\n"), "\n" + KEY + "\n") == one
    assert N.plan([{"tls": tls(cert=CERT.rstrip())}], "/e")["files"][0]["content"] == CERT


def test_one_pair_named_by_two_servers_is_written_once():
    servers = [{"upstream": "a", "listen": ["198.51.100.100:443"], "tls": tls()},
               {"upstream": "b", "listen": ["198.51.100.101:443"], "tls": tls(redirect_http=True)},
               {"upstream": "c", "tls": tls("api", CERT2, KEY2)}]
    got = N.plan(servers, "/etc/nginx")
    assert [f["path"].rsplit("/", 1)[1].split("-")[0] for f in got["files"]] == ["www", "www", "api", "api"]
    assert got["servers"][0]["certificate"] == got["servers"][1]["certificate"]
    assert (got["servers"][0]["redirect"], got["servers"][1]["redirect"]["listens"]) == (None, ["198.51.100.101:80"])


def test_two_pairs_under_one_name_are_an_error_that_quotes_neither():
    with pytest.raises(N.TlsError) as info:
        N.plan([{"tls": tls()}, {"tls": tls(cert=CERT2, key=KEY2)}], "/etc/nginx")
    assert "www" in str(info.value) and KEY.splitlines()[1] not in str(info.value)


def test_the_filter_says_what_is_wrong_without_the_values():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError) as info:
        nginx_tls([{"tls": {"name": "www", "key": KEY}}], "/etc/nginx")
    assert "a tls entry without name, certificate or key" in str(info.value)
    assert KEY.splitlines()[1] not in str(info.value)
    with pytest.raises(AnsibleFilterError, match="expected nginx_lb_servers"):
        nginx_tls("x", "/etc/nginx")
    assert nginx_tls([], "/etc/nginx") == {"servers": [], "files": [], "keep": [], "dir": "/etc/nginx/halb-tls"}


def test_key_matches():
    rsa_cert, rsa_key = self_signed("rsa.example.test", "rsa", "traditional")
    assert N.key_matches(CERT, KEY) is True
    assert N.key_matches(rsa_cert, rsa_key) is True
    assert N.key_matches(CERT + CERT2, KEY) is True  # the first certificate is the server's
    assert N.key_matches(CERT, KEY2) is False
    assert N.key_matches(CERT, rsa_key) is False  # nginx -t passes this one
    assert N.key_matches(CERT2 + CERT, KEY) is False
    assert N.key_matches("not pem", KEY) is None
