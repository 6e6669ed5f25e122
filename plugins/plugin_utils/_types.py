# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strict types for every value a role renders into keepalived.conf or an nginx file.

A template pastes text: a newline, ``;``, ``{``, ``}``, ``#`` or ``!`` inside an
inventory value becomes configuration. Every such value is therefore one of the
types below, or refused before any host changes. Each type is a callable that
returns the normalised value or raises :class:`TypeCheckError`, whose message names
the variable, the host, the value found (never a secret's) and what is allowed.

``role_vars(role)`` (``ROLE_VARS``) maps every role variable that reaches a template to its
type (``table(role)`` lists them as ``variable path -> type``): the role's argument spec
(``meta/argument_specs.yml``, the one declaration of a variable) states the type of a
simple one - ``type: bool``, ``choices``, or ``type: int``/``float`` with its range written
``C(LO)..C(HI)`` in its description (an integer, or seconds), optional when it has no
default - and ``KEEPALIVED_VARS``/``NGINX_VARS`` hold the types a spec cannot state
(addresses, names, paths, lists and records: ``EXPLICIT``). And
``check_role_vars(role, host, hostvars)`` returns every problem of one host, so a
preflight calls it in one line. ``check_derived(instances)`` types the values the
topology derives (generated labels, instance names) before the template reads them.

Decisions (and why):

- Integers are Python ints only: ``True`` and ``"3"`` are refused (``-e k=3`` passes a
  string; the template would paste it, or crash on ``"3" + 1``). Pass JSON with ``-e``.
- nginx ``server_name``: host names, ``*.`` + host name, ``.`` + host name, or ``_``;
  regular expressions (``~...``) are refused: they may hold ``{``, ``;`` and quotes.
- ``listen``: ``PORT``, ``IPV4:PORT``, ``*:PORT`` or ``[IPV6]:PORT`` and only the
  flags ``default_server``, ``reuseport``, ``proxy_protocol``, ``bind``, ``backlog=N``
  (streams: ``udp`` instead of ``default_server``). ``ssl`` and ``http2`` are refused:
  a server with ``tls:`` gets them from the role (with its certificate; ``http2`` as the
  installed nginx wants it).
- TLS material (``tls.certificate``, ``tls.key``): PEM text, nothing but PEM blocks; the
  certificate one or more ``CERTIFICATE`` blocks and no private key (its file is
  world-readable), the key one unencrypted private key (nginx would ask for a passphrase).
  Both are secrets in messages: never quoted, not even the certificate (it may be a key
  pasted into the wrong field).
- ``hash_key``: one to four nginx variables of a fixed set (``$remote_addr``,
  ``$binary_remote_addr``, ``$request_uri``, ``$uri``, ``$host``, ``$cookie_NAME``,
  ``$arg_NAME``, ``$http_NAME``, ... ; streams: address and port variables),
  concatenated, optionally separated by ``:``.
- nginx directives the role does not model (``nginx_lb_http_directives``, ``directives:``):
  ``{name, value}``, the name ``[a-z][a-z0-9_]*``, the value printable text without
  ``{ } ; #`` or ``\\`` (even inside quotes: no nginx lexer needed to judge it), words
  separated by single spaces, each bare or quoted whole. What the directive means is left to
  ``nginx -t`` (the validator), which reads it before the file is written.
- ``auth_pass``: 1..8 bytes of printable ASCII without whitespace, ``#``, ``!``
  (keepalived comments), quotes, braces, ``\\`` (line continuation) or ``$``
  (keepalived parameter substitution).
- Labels and interface names: at most 15 bytes (IFNAMSIZ - 1); a label is
  ``DEV:SUFFIX`` and begins with its device's name.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.halb.pair.plugins.module_utils._drain import WEIGHT_MAX
from ansible_collections.halb.pair.plugins.module_utils._vrrp_advert import PRIORITY_MAX, PRIORITY_MIN, VRID_MAX, VRID_MIN

SECRET_VARS = frozenset({"keepalived_auth_pass"})
IFNAMSIZ = 16


class TypeCheckError(ValueError):
    """A value that is not of its type: where, what was found, what is allowed."""

    def __init__(self, allowed: str, value: t.Any = None, why: str = "", *, path: str = "value",
                 host: str | None = None, secret: bool = False) -> None:
        self.allowed = allowed
        self.value = value
        self.why = why
        self.path = path
        self.host = host
        self.secret = secret
        super().__init__(str(self))

    def at(self, path: str, host: str | None = None, secret: bool | None = None) -> TypeCheckError:
        return TypeCheckError(self.allowed, self.value, self.why, path=path, host=host if host is not None else self.host,
                              secret=self.secret if secret is None else secret)

    def __str__(self) -> str:
        where = self.path + (f" on {self.host}" if self.host else "")
        found = _show_secret(self.value) if self.secret else _show(self.value)
        why = f" ({self.why})" if self.why else ""
        return f"{where}: found {found}{why}; allowed: {self.allowed}"


def _show(value: t.Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show_secret(value: t.Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f"<secret of {len(value)} characters, {len(value.encode('utf-8'))} bytes>"
    return f"<secret of type {_kind(value)}>"


def _kind(value: t.Any) -> str:
    """The builtin type a value is (Ansible's tagged and lazy containers are subclasses)."""
    for base in (bool, int, float, str, bytes, list, tuple, dict, set):
        if isinstance(value, base):
            return base.__name__
    return "null" if value is None else type(value).__name__


class _Bad(Exception):
    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Type:
    """A named check: ``TYPE(value)`` returns the normalised value or raises TypeCheckError."""

    name: str
    allowed: str
    parse: t.Callable[[t.Any], t.Any] = field(repr=False)
    secret: bool = False

    def __call__(self, value: t.Any, path: str = "value", host: str | None = None) -> t.Any:
        try:
            return self.parse(value)
        except _Bad as exc:
            raise TypeCheckError(self.allowed, value, exc.why, path=path, host=host, secret=self.secret) from None

    def accepts(self, value: t.Any) -> bool:
        """``value`` is of this type (where a caller words its own message)."""
        try:
            self.parse(value)
        except _Bad:
            return False
        return True


# --------------------------------------------------------------------------
# Building blocks

def _str(value: t.Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"a {_kind(value)}, not a string")
    return str(value)


def _int(value: t.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str):
            raise _Bad("a string, not an integer; with -e pass JSON, e.g. -e '{\"name\": 3}'")
        raise _Bad(f"a {_kind(value)}, not an integer")
    return int(value)


def integer(lo: int, hi: int, name: str | None = None) -> Type:
    def parse(value: t.Any) -> int:
        v = _int(value)
        if not lo <= v <= hi:
            raise _Bad("out of range")
        return v
    return Type(name or f"int {lo}..{hi}", f"an integer within {lo}..{hi}", parse)


def seconds(lo: float, hi: float, name: str | None = None) -> Type:
    """A number of seconds (an integer or a decimal) within lo..hi."""
    def parse(value: t.Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"a {_kind(value)}, not a number")
        if not lo <= value <= hi:
            raise _Bad("out of range")
        return float(value)
    return Type(name or f"seconds {lo:g}..{hi:g}", f"a number of seconds within {lo:g}..{hi:g}", parse)


def choice(*options: t.Any, name: str | None = None) -> Type:
    def parse(value: t.Any) -> t.Any:
        for o in options:
            # isinstance, not type(): Ansible hands over tagged subclasses of str and int
            if isinstance(value, type(o)) and isinstance(value, bool) == isinstance(o, bool) and value == o:
                return o
        raise _Bad()
    return Type(name or "one of " + "|".join(map(str, options)), "one of " + ", ".join(repr(o) for o in options), parse)


def optional(inner: Type) -> Type:
    """``None`` (unset) or ``inner``."""
    return Type(f"{inner.name} or null", f"{inner.allowed}, or null (unset)",
                lambda v: None if v is None else inner.parse(v), inner.secret)


def either(*types: Type, name: str) -> Type:
    def parse(value: t.Any) -> t.Any:
        whys = []
        for ty in types:
            try:
                return ty.parse(value)
            except _Bad as exc:
                whys.append(exc.why)
        raise _Bad(next((w for w in whys if w), ""))
    return Type(name, "; or ".join(ty.allowed for ty in types), parse)


def pattern(regex: str, name: str, allowed: str, max_bytes: int | None = None) -> Type:
    rx = re.compile(regex)

    def parse(value: t.Any) -> str:
        s = _str(value)
        if max_bytes is not None and len(s.encode("utf-8")) > max_bytes:
            raise _Bad(f"{len(s.encode('utf-8'))} bytes, more than {max_bytes}")
        if not rx.fullmatch(s):
            raise _Bad()
        return s
    return Type(name, allowed, parse)


# --------------------------------------------------------------------------
# Addresses

def _ip(value: t.Any, version: int | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    s = _str(value)
    if "%" in s:
        raise _Bad("a zone index (%...) is not allowed")
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        raise _Bad() from None
    if version is not None and ip.version != version:
        raise _Bad(f"an IPv{ip.version} address")
    return ip


IPV4_ADDRESS = Type("ipv4_address", "an IPv4 address such as 198.51.100.10", lambda v: str(_ip(v, 4)))
IPV6_ADDRESS = Type("ipv6_address", "an IPv6 address such as 2001:db8::10", lambda v: str(_ip(v, 6)))
IP_ADDRESS = Type("ip_address", "an IPv4 or IPv6 address", lambda v: str(_ip(v, None)))


def _ip_interface(value: t.Any) -> str:
    s = _str(value)
    if "/" not in s or "%" in s:
        raise _Bad("no /prefix" if "/" not in s else "a zone index (%...) is not allowed")
    addr, _slash, prefix = s.partition("/")
    if not prefix.isdigit() or not prefix.isascii():
        raise _Bad("the prefix must be a number of bits")
    try:
        iface = ipaddress.ip_interface(f"{addr}/{int(prefix)}")
    except ValueError:
        raise _Bad() from None
    return f"{iface.ip}/{iface.network.prefixlen}"


IP_PREFIX = Type("ip_prefix", "ADDRESS/PREFIX such as 198.51.100.100/24 or 2001:db8::100/64", _ip_interface)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RX = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def _hostname(value: t.Any) -> str:
    s = _str(value)
    if len(s) > 253 or not _HOSTNAME_RX.fullmatch(s):
        raise _Bad()
    if s.rsplit(".", 1)[-1].isdigit():
        raise _Bad("its last label is all digits: not a host name, and not a valid IP address either")
    return s.lower()


HOSTNAME = Type("hostname", "an RFC 1123 host name (labels of letters, digits and '-', separated by '.', at most 253 bytes)",
                _hostname)


def _host(value: t.Any) -> str:
    s = _str(value)
    if s.startswith("[") and s.endswith("]"):
        return str(_ip(s[1:-1], 6))
    try:
        return str(_ip(s, None))
    except _Bad:
        pass
    return _hostname(s)


HOST = Type("host", "an IPv4 or IPv6 address or an RFC 1123 host name, without a port", _host)


def _server_name(value: t.Any) -> str:
    s = _str(value)
    if s == "_":
        return s
    if s.startswith("~"):
        raise _Bad("regular expressions are refused (they may hold braces, ';' and quotes)")
    if s.startswith("*."):
        return "*." + _hostname(s[2:])
    if s.startswith("."):
        return "." + _hostname(s[1:])
    return _hostname(s)


SERVER_NAME = Type("server_name", "'_', a host name, '*.' or '.' followed by a host name (no regular expressions)",
                   _server_name)


def _server_names(value: t.Any) -> list[str]:
    if isinstance(value, str):
        if value != value.strip(" ") or "  " in value:
            raise _Bad("names in one string are separated by single spaces")
        items: list[t.Any] = value.split(" ")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _Bad(f"a {_kind(value)}")
    if not items:
        raise _Bad("empty")
    return [_server_name(i) for i in items]


SERVER_NAMES = Type("server_names", "a server name or a list of them: " + SERVER_NAME.allowed, _server_names)

# --------------------------------------------------------------------------
# Names

INSTANCE_NAME = pattern(r"[A-Za-z][A-Za-z0-9_-]{0,31}", "instance_name",
                        "a letter, then up to 31 letters, digits, '_' or '-' (no '/', no leading '.')")
NGINX_NAME = pattern(r"[A-Za-z][A-Za-z0-9_-]{0,63}", "nginx_name",
                     "a letter, then up to 63 letters, digits, '_' or '-'")
USER_NAME = pattern(r"[a-z_][a-z0-9_-]{0,31}", "user_name", "a POSIX user name: [a-z_] then up to 31 of [a-z0-9_-]")
UNIT_NAME = pattern(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}", "unit_name", "a systemd unit name without its .service suffix: letters, digits, _ . @ -")


def _ifname(value: t.Any) -> str:
    s = _str(value)
    n = len(s.encode("utf-8"))
    if n > IFNAMSIZ - 1:
        raise _Bad(f"{n} bytes, more than {IFNAMSIZ - 1} (IFNAMSIZ - 1)")
    if s in (".", "..") or not re.fullmatch(r"[A-Za-z0-9_.-]+", s):
        raise _Bad()
    return s


INTERFACE = Type("interface", "an interface name of 1..15 bytes of letters, digits, '_', '.' or '-' "
                 "(no '/', ':' or whitespace)", _ifname)


def interface_label(dev: str | None = None) -> Type:
    """``DEV:SUFFIX``, at most 15 bytes; with ``dev``, it must begin with ``dev:``."""
    def parse(value: t.Any) -> str:
        s = _str(value)
        n = len(s.encode("utf-8"))
        if n > IFNAMSIZ - 1:
            raise _Bad(f"{n} bytes, more than {IFNAMSIZ - 1} (IFNAMSIZ - 1)")
        m = re.fullmatch(r"([A-Za-z0-9_.-]+):([A-Za-z0-9_-]+)", s)
        if not m or m.group(1) in (".", ".."):
            raise _Bad()
        if dev is not None and m.group(1) != dev:
            raise _Bad(f"it does not begin with its device {dev}:")
        return s
    where = f"{dev}:" if dev else "DEV:"
    return Type("interface_label", f"{where}SUFFIX, at most 15 bytes in all (IFNAMSIZ - 1), letters, digits, '_' or '-' "
                "after the ':' (e.g. eth0:1)", parse)


INTERFACE_LABEL = interface_label()


def _router_id(value: t.Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)  # a templated default such as "{{ inventory_hostname_short }}" may come back as an int
    s = _str(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", s):
        raise _Bad()
    return s


ROUTER_ID = Type("router_id", "1..64 letters, digits, '_', '.' or '-', beginning with a letter or digit", _router_id)


def _email(value: t.Any) -> str:
    s = _str(value)
    if len(s) > 254 or s.count("@") != 1:
        raise _Bad()
    local, domain = s.split("@")
    if not re.fullmatch(r"[A-Za-z0-9._%+-]{1,64}", local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise _Bad()
    # underscores allowed in the domain: it is often an inventory host name (keepalived@lb_1)
    if not re.fullmatch(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*",
                        domain):
        raise _Bad()
    return s


EMAIL = Type("email", "LOCAL@DOMAIN: local part of letters, digits and . _ % + -; domain a host name", _email)

# --------------------------------------------------------------------------
# Ports, URLs, paths

PORT = integer(1, 65535, "port")

_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?&=+,%\[\]-]+")


def _url(value: t.Any) -> str:
    s = _str(value)
    if not _URL_CHARS.fullmatch(s):
        raise _Bad("only letters, digits and . _ ~ : / ? & = + , % [ ] - are allowed (no whitespace, quotes, braces, ';', '#', '!', '@')")
    m = re.fullmatch(r"(https?)://(\[[^\]/]+\]|[^:/?\[\]]+)(?::(\d{1,5}))?(/[^?]*)?(\?.*)?", s)
    if not m:
        raise _Bad("not http(s)://HOST[:PORT][/PATH][?QUERY]")
    _host(m.group(2))
    if m.group(3) is not None and not 1 <= int(m.group(3)) <= 65535:
        raise _Bad("port out of 1..65535")
    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise _Bad("a '%' not followed by two hex digits")
    return s


URL = Type("url", "http:// or https:// URL: HOST[:PORT][/PATH][?QUERY] of letters, digits and . _ ~ : / ? & = + , % [ ] -", _url)

URI_PATH = pattern(r"/[A-Za-z0-9._~/-]*", "uri_path", "a path beginning with '/', of letters, digits and . _ ~ / -")
ABS_PATH = pattern(r"/[A-Za-z0-9._+@=,/-]*", "abs_path",
                   "an absolute path of letters, digits and . _ + @ = , / - (no whitespace, quotes, ';', '{', '}', '#', '!', '$')",
                   max_bytes=4095)
NGINX_ERROR_LOG = either(choice("stderr"), ABS_PATH, name="nginx_error_log")
NGINX_ACCESS_LOG = either(choice("off"), ABS_PATH, name="nginx_access_log")
NGINX_WORKER_PROCESSES = either(choice("auto"), integer(1, 1024), name="nginx_worker_processes")

# --------------------------------------------------------------------------
# nginx durations and sizes

_UNITS_MS = {"y": 31_536_000_000, "M": 2_592_000_000, "w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000,
             "s": 1000, "ms": 1}
_DURATION_RX = re.compile(r"(?:(\d+)y)?(?:(\d+)M)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
MAX_MS = 2**31 - 1


def duration(seconds_only: bool = False) -> Type:
    """An nginx time: ``5s``, ``100ms``, ``1m``, ``1h30m``; a bare number counts seconds.
    ``seconds_only``: the directive counts whole seconds (``fail_timeout``), no ``ms``."""
    def parse(value: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            s = f"{value}s"
        else:
            s = _str(value)
            if s.isascii() and s.isdigit():
                s += "s"
        m = _DURATION_RX.fullmatch(s) if s.isascii() else None
        if not s or not m or not any(m.groups()):
            raise _Bad()
        if seconds_only and m.group(8) is not None:
            raise _Bad("this directive counts whole seconds: no 'ms'")
        total = sum(int(n) * _UNITS_MS[u] for n, u in zip(m.groups(), _UNITS_MS, strict=True) if n is not None)
        if not 0 < total <= MAX_MS:
            raise _Bad(f"must be above 0 and at most {MAX_MS} ms (24d20h31m23s)")
        return s
    units = "y M w d h m s" if seconds_only else "y M w d h m s ms"
    return Type("duration_s" if seconds_only else "duration",
                f"an nginx time such as 5s, 1m or 1h30m (units in that order from {units}; a bare number is seconds), "
                f"above 0", parse)


DURATION = duration()
DURATION_S = duration(seconds_only=True)


def _size(value: t.Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    s = _str(value)
    if not re.fullmatch(r"[0-9]{1,12}[kKmMgG]?", s):
        raise _Bad()
    return s


SIZE = Type("size", "an nginx size: a number of bytes, optionally followed by k, m or g (e.g. 512k, 1m)", _size)

# --------------------------------------------------------------------------
# nginx: listen, hash keys, proxy_next_upstream

_LISTEN_FLAGS = {"http": ("default_server", "reuseport", "proxy_protocol", "bind"),
                 "stream": ("udp", "reuseport", "proxy_protocol", "bind")}
_REFUSED_FLAGS = {"ssl": "give the server a tls: mapping, the role adds ssl to its listens",
                  "http2": "give the server a tls: mapping (http2 is on by default there)",
                  "quic": "the role configures no HTTP/3", "default": "write default_server"}


def listen(context: str = "http") -> Type:
    flags = _LISTEN_FLAGS[context]

    def parse(value: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # nginx_lb_health_listen: "{{ nginx_lb_health_port }}" comes back as an int
        s = _str(value)
        if not re.fullmatch(r"[^\s]+(?: [^\s]+)*", s):
            raise _Bad("words are separated by single spaces, nothing else")
        where, *opts = s.split(" ")
        m = re.fullmatch(r"(?:(\[[0-9A-Fa-f:.]+\]|\*|[0-9.]+):)?([0-9]{1,5})", where)
        if not m:
            raise _Bad(f"the address part {where!r} is not PORT, IPV4:PORT, *:PORT or [IPV6]:PORT")
        addr, port = m.group(1), int(m.group(2))
        if not 1 <= port <= 65535:
            raise _Bad(f"port {port} out of 1..65535")
        if addr and addr.startswith("["):
            addr = f"[{_ip(addr[1:-1], 6)}]"
        elif addr and addr != "*":
            addr = str(_ip(addr, 4))
        seen: set[str] = set()
        for o in opts:
            name = o.split("=", 1)[0]
            if name in _REFUSED_FLAGS:
                raise _Bad(f"{o!r} is refused: {_REFUSED_FLAGS[name]}")
            if name == "backlog":
                if not re.fullmatch(r"backlog=[0-9]{1,6}", o) or not 1 <= int(o[8:]) <= 65535:
                    raise _Bad(f"{o!r}: backlog=N with N in 1..65535")
            elif o not in flags:
                raise _Bad(f"{o!r} is not an allowed parameter")
            if name in seen:
                raise _Bad(f"{name} given twice")
            seen.add(name)
        clash = sorted(seen & {"proxy_protocol", "backlog"}) if "udp" in seen else []
        if clash:  # nginx: "... parameter is incompatible with "udp"" (found by tests/property)
            raise _Bad(f"{clash[0]} cannot be used with udp")
        return " ".join([f"{addr}:{port}" if addr else str(port), *opts])
    return Type(f"listen_{context}", "PORT, IPV4:PORT, *:PORT or [IPV6]:PORT with PORT in 1..65535, then only the parameters "
                + ", ".join([*flags, "backlog=N"]) + ("; udp not with proxy_protocol or backlog" if context == "stream" else ""),
                parse)


LISTEN_HTTP = listen("http")
LISTEN_STREAM = listen("stream")

_HASH_VARS = {
    "http": ("remote_addr", "binary_remote_addr", "remote_port", "request_uri", "uri", "host", "scheme", "args",
             "server_name", "server_addr", "server_port", "request_method"),
    "stream": ("remote_addr", "binary_remote_addr", "remote_port", "server_addr", "server_port", "protocol"),
}
_HASH_PREFIXES = {"http": ("cookie_", "arg_", "http_"), "stream": ()}


def hash_key(context: str = "http") -> Type:
    names = _HASH_VARS[context]
    prefixes = _HASH_PREFIXES[context]
    var = "|".join([*names, *(p + "[a-z0-9_]+" for p in prefixes)])
    rx = re.compile(rf"\$(?:{var})(?::?\$(?:{var})){{0,3}}")

    def parse(value: t.Any) -> str:
        s = _str(value)
        if not rx.fullmatch(s):
            raise _Bad()
        return s
    extra = (", $cookie_NAME, $arg_NAME, $http_NAME (NAME: [a-z0-9_]+)" if prefixes else "")
    return Type(f"hash_key_{context}", "1..4 nginx variables, concatenated or separated by ':', among "
                + ", ".join("$" + n for n in names) + extra, parse)


HASH_KEY_HTTP = hash_key("http")
HASH_KEY_STREAM = hash_key("stream")

NEXT_UPSTREAM_WORDS = ("error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504", "http_403",
                       "http_404", "http_429", "non_idempotent")


def _next_upstream(value: t.Any) -> str:
    s = _str(value)
    if s == "off":
        return s
    words = s.split(" ")
    if not words or any(w not in NEXT_UPSTREAM_WORDS for w in words) or len(set(words)) != len(words):
        raise _Bad()
    return s


NEXT_UPSTREAM = Type("proxy_next_upstream", "'off', or distinct words separated by single spaces among "
                     + ", ".join(NEXT_UPSTREAM_WORDS), _next_upstream)

# --------------------------------------------------------------------------
# nginx: directives the role does not model (nginx_lb_http_directives, directives: of
# servers and streams), rendered as ``NAME VALUE;``

NGINX_DIRECTIVE_NAME = pattern(r"[a-z][a-z0-9_]{0,63}", "nginx_directive_name",
                               "a directive name: a lower-case letter, then up to 63 lower-case letters, digits or '_'")
#: What nginx's lexer reads as structure outside quotes ('\\' escapes the next character, even
#: a ';' or a quote): refused everywhere in a value, inside quotes too.
NGINX_DIRECTIVE_REFUSED = "{};#\\"


def _nginx_directive_value(value: t.Any) -> str:
    if isinstance(value, bool):
        raise _Bad("a bool: YAML reads on, off, yes and no unquoted as one; quote the value ('on')")
    if isinstance(value, int):
        return str(value)  # client_max_body_size: 0, server_names_hash_bucket_size: 128
    s = _str(value)
    if not s:
        raise _Bad("empty: the role writes NAME VALUE; and has no bare directives")
    for c in s:
        if not c.isprintable():  # newline, carriage return, tab, other controls and separators
            raise _Bad(f"holds {c!r}, which is not a printable character (a newline would end the directive)")
        if c in NGINX_DIRECTIVE_REFUSED:
            raise _Bad(f"holds {c!r}, which nginx reads as structure (a block, the end of a directive, a comment or an escape)")
    # Words separated by single spaces; a word is bare (no quotes in it) or quoted whole: an
    # unterminated quote would swallow the ';' and the directives after it.
    i, n = 0, len(s)
    while i < n:
        if s[i] == " ":
            raise _Bad("words are separated by single spaces (no leading, trailing or double spaces)")
        if s[i] in "\"'":
            end = s.find(s[i], i + 1)
            if end < 0:
                raise _Bad(f"an unterminated {s[i]} quote")
            i = end + 1
            if i < n and s[i] != " ":
                raise _Bad("a quoted word is followed by a space or ends the value")
        else:
            while i < n and s[i] != " ":
                if s[i] in "\"'":
                    raise _Bad("a quote inside a word: quote whole words")
                i += 1
        if i < n:
            i += 1  # the space
            if i == n:
                raise _Bad("words are separated by single spaces (no leading, trailing or double spaces)")
    return s


NGINX_DIRECTIVE_VALUE = Type("nginx_directive_value", "a non-empty string (or an integer) of printable characters without "
                             + " ".join(NGINX_DIRECTIVE_REFUSED) + ": words separated by single spaces, each bare or quoted whole "
                             "with \" or ' (a quoted word may hold spaces)", _nginx_directive_value)

# --------------------------------------------------------------------------
# nginx: TLS material (the tls: mapping of an nginx_lb_servers item). Files, not configuration
# text: what matters is that each is what its field says, so a private key never lands in the
# world-readable certificate file, and that no message ever quotes one.

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9]+(?: [A-Z0-9]+)*)-----\n(.*?)\n?-----END ([A-Z0-9 ]+)-----", re.S)
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")


def _pem_blocks(value: t.Any) -> list[str]:
    """The labels of the PEM blocks that make up ``value``, or _Bad (never quoting it)."""
    s = _str(value).strip().replace("\r\n", "\n")
    if not s:
        raise _Bad("empty")
    labels, pos = [], 0
    for m in _PEM_BLOCK.finditer(s):
        if s[pos:m.start()].strip():
            raise _Bad("text outside the PEM blocks")
        if m.group(1) != m.group(3):
            raise _Bad(f"a {m.group(1)} block ends as {m.group(3)}")
        lines = [x.strip() for x in m.group(2).split("\n") if x.strip()]
        if any(":" in x for x in lines) and m.group(1).endswith("PRIVATE KEY"):
            raise _Bad("an encrypted key (Proc-Type headers): nginx would ask for its passphrase at every start")
        if not lines or not all(_BASE64_LINE.fullmatch(x) for x in lines):
            raise _Bad(f"a {m.group(1)} block that is not base64 between its BEGIN and END lines")
        labels.append(m.group(1))
        pos = m.end()
    if s[pos:].strip():
        raise _Bad("text outside the PEM blocks (or a block without its END line)")
    return labels


def _pem_certificate(value: t.Any) -> str:
    labels = _pem_blocks(value)
    if any("PRIVATE KEY" in x for x in labels):
        raise _Bad("it holds a private key, and the certificate file is world-readable: give the key as tls.key")
    if not labels or any(x != "CERTIFICATE" for x in labels):
        raise _Bad("blocks other than -----BEGIN CERTIFICATE----- (" + ", ".join(sorted(set(labels) - {"CERTIFICATE"})) + ")")
    return str(value)


def _pem_private_key(value: t.Any) -> str:
    labels = [x for x in _pem_blocks(value) if x != "EC PARAMETERS"]  # openssl ecparam -genkey writes them first
    if "ENCRYPTED PRIVATE KEY" in labels:
        raise _Bad("an encrypted key: nginx would ask for its passphrase at every start")
    if len(labels) != 1 or labels[0] not in KEY_LABELS:
        found = ", ".join(labels) if labels else "none"
        raise _Bad(f"the blocks {found}: exactly one private key block (" + ", ".join(KEY_LABELS) + ")")
    return str(value)


PEM_CERTIFICATE = Type("pem_certificate", "PEM text of one or more -----BEGIN CERTIFICATE----- blocks (the server's "
                       "certificate first, then the chain), nothing else", _pem_certificate, secret=True)
PEM_PRIVATE_KEY = Type("pem_private_key", "PEM text of one unencrypted private key (-----BEGIN PRIVATE KEY-----, "
                       "RSA PRIVATE KEY or EC PRIVATE KEY), nothing else", _pem_private_key, secret=True)

# --------------------------------------------------------------------------
# keepalived specifics

AUTH_MAX_BYTES = 8
_AUTH_REFUSED = set("#!\"'{}\\$")


def _auth_pass(value: t.Any) -> str:
    s = _str(value)
    raw = s.encode("utf-8")
    if not 1 <= len(raw) <= AUTH_MAX_BYTES:
        raise _Bad(f"{len(raw)} bytes; keepalived uses the first {AUTH_MAX_BYTES} bytes only" if raw else "empty")
    if any(not 0x21 <= b <= 0x7E for b in raw):
        raise _Bad("holds whitespace, a control character or a non-ASCII character")
    if _AUTH_REFUSED & set(s):
        raise _Bad("holds one of # ! \" ' { } \\ $, which keepalived reads as a comment, quote, block or substitution")
    return s


AUTH_PASS = Type("auth_pass", "1..8 bytes of printable ASCII without whitespace, #, !, quotes, braces, \\ or $",
                 _auth_pass, secret=True)


def advert_int(version: int) -> Type:
    """keepalived's advert_int: VRRPv2 whole seconds 1..255, VRRPv3 0.01..40.95 in steps of 0.01."""
    def parse(value: t.Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"a {_kind(value)}, not a number" + ("; with -e pass JSON" if isinstance(value, str) else ""))
        if version == 2:
            if value != int(value):
                raise _Bad("VRRPv2 counts whole seconds: fractional adverts need keepalived_vrrp_version: 3")
            if not 1 <= value <= 255:
                raise _Bad("out of range")
            return int(value)
        centis = round(value * 100)
        if abs(centis - value * 100) > 1e-6:
            raise _Bad("VRRPv3 counts hundredths of a second")
        if not 1 <= centis <= 4095:
            raise _Bad("out of range")
        return int(value) if centis % 100 == 0 else centis / 100
    if version == 2:
        return Type("advert_int_v2", "whole seconds 1..255 (VRRPv2)", parse)
    return Type("advert_int_v3", "0.01..40.95 seconds in steps of 0.01 (VRRPv3)", parse)


ADVERT_INT_V2 = advert_int(2)
ADVERT_INT_V3 = advert_int(3)
TRACK_WEIGHT = integer(-WEIGHT_MAX, WEIGHT_MAX, "track_weight")
PRIORITY = integer(PRIORITY_MIN, PRIORITY_MAX, "priority")
VRID = integer(VRID_MIN, VRID_MAX, "vrid")


#: keepalived's vrrp_script, vrrp_track_process and vrrp_track_file names of the operator's own tracks.
TRACK_NAME = pattern(r"[A-Za-z][A-Za-z0-9_-]{0,31}", "track_name", "a letter, then up to 31 letters, digits, '_' or '-'")
#: A tracked process: its name (matched against /proc/PID/comm), or with params the command (argv[0]).
PROCESS_NAME = pattern(r"[A-Za-z0-9._+@=,:/-]{1,255}", "process_name",
                       "a process name or command of 1..255 letters, digits and . _ + @ = , : / - (no whitespace, quotes, "
                       "'#', '!', braces)")
PROCESS_PARAM = pattern(r"[A-Za-z0-9._+@=,:/%-]{1,255}", "process_param",
                        "a parameter of 1..255 letters, digits and . _ + @ = , : / % - (no whitespace, quotes, '#', '!', braces)")
PARAM_MATCH = choice("exact", "initial", "partial", name="param_match")


#: A keepalived keyword the role does not model (keepalived_global_defs_directives, keepalived_instance_directives).
KEEPALIVED_DIRECTIVE_NAME = pattern(r"[a-z][a-z0-9_]{0,63}", "keepalived_directive_name",
                                    "a keepalived keyword: a lower-case letter, then up to 63 of "
                                    "a-z, 0-9, '_'")
_KEEPALIVED_DIRECTIVE_WORD = r"[!-~]+"
_KEEPALIVED_DIRECTIVE_REFUSED = set("{}#!\"'\\$")
KEEPALIVED_DIRECTIVE_MAX_BYTES = 512


def _keepalived_directive_value(value: t.Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and not isinstance(value, bool):
        text = repr(value)
        if not re.fullmatch(r"-?[0-9]+\.[0-9]+", text):
            raise _Bad(f"the number {text} is not written as plain decimals; quote it as a string")
        return text
    s = _str(value)
    if len(s.encode("utf-8")) > KEEPALIVED_DIRECTIVE_MAX_BYTES:
        raise _Bad(f"{len(s.encode('utf-8'))} bytes, more than {KEEPALIVED_DIRECTIVE_MAX_BYTES}")
    if any(c in "\n\r" for c in s):
        raise _Bad("a line break would end the directive and start another")
    if _KEEPALIVED_DIRECTIVE_REFUSED & set(s):
        raise _Bad("holds one of { } # ! \" ' \\ $, which keepalived reads as a block, a comment, a quote, a line "
                   "continuation or a substitution")
    if s and not re.fullmatch(rf"{_KEEPALIVED_DIRECTIVE_WORD}(?: {_KEEPALIVED_DIRECTIVE_WORD})*", s):
        raise _Bad("only printable ASCII, words separated by single spaces, no leading or trailing space")
    return s


KEEPALIVED_DIRECTIVE_VALUE = Type("keepalived_directive_value", "a string of printable ASCII words separated by single spaces, without { } # ! \" ' "
                                  "\\ $ or a line break (empty: the keyword alone), at most 512 bytes; or a number", _keepalived_directive_value)


def _bool(value: t.Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"a {_kind(value)}" + (", not a boolean; with -e pass JSON" if isinstance(value, str) else ""))
    return value


BOOL = Type("bool", "true or false (a YAML boolean, not a string)", _bool)
STATE = choice("MASTER", "BACKUP", name="vrrp_state")
ANY_STR = Type("str", "a string", _str)


def _argv(value: t.Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"a {_kind(value)}, not a non-empty list")
    if not all(isinstance(a, str) and a and "\x00" not in a for a in value):
        raise _Bad("an item that is not a non-empty string")
    if not value[0].startswith("/"):
        raise _Bad("a command that is not an absolute path")
    return [str(a) for a in value]


ARGV = Type("argv", "a command as a list of strings, the first an absolute path (run without a shell)", _argv)

# --------------------------------------------------------------------------
# Structures: lists and records of the types above


@dataclass(frozen=True)
class ListOf:
    item: Spec
    min_len: int = 0
    scalar_ok: bool = False  # a single value stands for a list of one (listen: "80")


@dataclass(frozen=True)
class Record:
    fields: dict[str, Spec]
    required: tuple[str, ...] = ()
    label: str = "name"  # the key shown beside the index in messages


@dataclass(frozen=True)
class MapOf:
    key: Type
    value: Spec


@dataclass(frozen=True)
class Vip:
    """keepalived_vips entry: "ADDRESS/PREFIX" or {address, dev, label}; a label begins
    with its dev (``default_dev`` when the entry names none: keepalived_interface)."""

    default_dev: str | None = None


@dataclass(frozen=True)
class ScalarOr:
    """A scalar of type ``scalar`` or, as a mapping, a ``record`` (``eth1`` or ``{name: eth1, weight: -60}``)."""

    scalar: Type
    record: Record


Spec = t.Union[Type, ListOf, Record, MapOf, Vip, ScalarOr]  # noqa: UP007 (a runtime alias of forward references)

_VIP_RECORD = Record({"address": IP_PREFIX, "dev": INTERFACE, "label": optional(INTERFACE_LABEL)}, required=("address",), label="")


def _check(spec: Spec, value: t.Any, path: str, host: str | None, out: list[str], secret: bool = False) -> None:
    if isinstance(spec, Type):
        try:
            spec(value, path, host)
        except TypeCheckError as exc:
            out.append(str(exc.at(path, host, secret or spec.secret)))
        return
    if isinstance(spec, ListOf):
        if spec.scalar_ok and not isinstance(value, list | tuple):
            value = [value]
        if not isinstance(value, list | tuple):
            out.append(f"{path}{_on(host)}: found {_show(value)}; allowed: a list")
            return
        if len(value) < spec.min_len:
            out.append(f"{path}{_on(host)}: found {len(value)} entries; allowed: at least {spec.min_len}")
        for i, item in enumerate(value):
            _check(spec.item, item, f"{path}[{i}]", host, out, secret)
        return
    if isinstance(spec, MapOf):
        if not isinstance(value, t.Mapping):
            out.append(f"{path}{_on(host)}: found {_show(value)}; allowed: a mapping")
            return
        for k, v in value.items():
            _check(spec.key, k, f"{path} key", host, out)
            _check(spec.value, v, f"{path}.{k}", host, out, secret)
        return
    if isinstance(spec, ScalarOr):
        _check(spec.record if isinstance(value, t.Mapping) else spec.scalar, value, path, host, out, secret)
        return
    if isinstance(spec, Vip):
        if isinstance(value, str):
            _check(IP_PREFIX, value, path, host, out)
            return
        dev = (value.get("dev") or spec.default_dev) if isinstance(value, t.Mapping) else None
        if isinstance(dev, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", dev):
            # the label must begin with its own device's name
            spec = Record({**_VIP_RECORD.fields, "label": optional(interface_label(dev))}, _VIP_RECORD.required, label="")
        else:
            spec = _VIP_RECORD
        _check(spec, value, path, host, out)
        return
    # Record
    if not isinstance(value, t.Mapping):
        # a record that holds a secret (tls: {key}) given as a string may be the secret itself
        holds_secret = secret or any(isinstance(f, Type) and f.secret for f in spec.fields.values())
        found = _show_secret(value) if holds_secret else _show(value)
        out.append(f"{path}{_on(host)}: found {found}; allowed: a mapping with the keys {', '.join(spec.fields)}")
        return
    name = value.get(spec.label) if spec.label else None
    shown = f"{path} ({name})" if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) else path
    for k in value:
        if k not in spec.fields:
            out.append(f"{shown}{_on(host)}: unknown key {_show(k)}; allowed keys: {', '.join(spec.fields)}")
    for k in spec.required:
        if k not in value:
            out.append(f"{shown}{_on(host)}: the key {k!r} is missing; it is required")
    for k, sub in spec.fields.items():
        if k in value:
            _check(sub, value[k], f"{shown}.{k}", host, out, secret)


def _on(host: str | None) -> str:
    return f" on {host}" if host else ""


# --------------------------------------------------------------------------
# The roles' variables that reach a template

_UPSTREAM_SERVER = Record({
    "address": HOST, "port": PORT, "weight": integer(1, 1000), "max_fails": integer(0, 1000),
    "fail_timeout": DURATION_S, "backup": BOOL, "down": BOOL,
}, required=("address",), label="address")

#: The IPVS schedulers keepalived's lb_algo takes (keepalived.conf(5)).
LVS_ALGOS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh")
FWMARK = integer(1, 2**32 - 1, "fwmark")
#: An inventory group name (real_servers_group): read by the controller, never rendered.
GROUP_NAME = pattern(r"[A-Za-z_][A-Za-z0-9_-]{0,254}", "group_name", "an inventory group name: a letter or '_', then letters, digits, '_' or '-'")
_REAL_SERVER = Record({"address": IP_ADDRESS, "port": PORT, "weight": integer(1, 65535), "gateway": IP_ADDRESS},
                      required=("address",), label="address")

KEEPALIVED_VARS: dict[str, Spec] = {
    "keepalived_profile": choice("default", "fast", name="profile"),
    "keepalived_topology": choice("single", "dual_master", "custom", name="topology"),
    "keepalived_vips": ListOf(Vip()),
    "keepalived_instances": ListOf(Record({
        "name": INSTANCE_NAME, "vrid": VRID, "master": ANY_STR, "vips": ListOf(Vip(), min_len=1), "nodes": ListOf(ANY_STR),
    }, required=("master", "vips"))),
    "keepalived_vrid_base": VRID,
    "keepalived_master_priority": PRIORITY,
    "keepalived_backup_priority": PRIORITY,
    "keepalived_priority_step": integer(1, 100),
    # keepalived_advert_int: ADVERT_INT_V2 or ADVERT_INT_V3, by the version (check_role_vars)
    "keepalived_vrrp_version": choice(2, 3, name="vrrp_version"),
    "keepalived_auth_pass": optional(AUTH_PASS),
    "keepalived_unicast": BOOL,
    "keepalived_nopreempt": BOOL,
    "keepalived_preempt_delay": integer(0, 1000),
    "keepalived_check_weight": TRACK_WEIGHT,
    "keepalived_interface": INTERFACE,
    "keepalived_instance_overrides": MapOf(INSTANCE_NAME, Record({"priority": PRIORITY, "state": STATE}, label="")),
    "keepalived_unicast_src_ip": optional(IP_ADDRESS),
    "keepalived_router_id": ROUTER_ID,
    "keepalived_check_url": optional(URL),
    "keepalived_check_interval": integer(1, 3600),
    "keepalived_check_timeout": integer(1, 300),
    "keepalived_check_fall": integer(1, 100),
    "keepalived_check_rise": integer(1, 100),
    "keepalived_notification_email": ListOf(EMAIL),
    "keepalived_notification_email_from": EMAIL,
    "keepalived_smtp_server": optional(HOST),
    "keepalived_smtp_connect_timeout": integer(1, 3600),
    "keepalived_script_user": USER_NAME,
    "keepalived_max_auto_priority": optional(integer(-1, 99)),
    "keepalived_vrrp_nice": optional(integer(-20, 19)),
    "keepalived_garp_master_delay": integer(0, 60),
    "keepalived_garp_master_repeat": integer(1, 100),
    "keepalived_garp_master_refresh": integer(0, 3600),
    "keepalived_conf_path": ABS_PATH,
    "keepalived_libexec_dir": ABS_PATH,
    "keepalived_drain_file": ABS_PATH,
    "keepalived_state_dir": ABS_PATH,
    "keepalived_handover_file": ABS_PATH,
    "keepalived_nginx_fault_file": ABS_PATH,
    "keepalived_nginx_service": UNIT_NAME,
    "keepalived_watch_port": PORT,
    "keepalived_watch_interval": seconds(0.1, 10, "watch_interval"),
    "keepalived_watch_hold": MapOf(
        choice("split_brain", "orphan", "unhealthy_holder", "misplaced", "drained", "foreign_vrrp", "guard_missing",
               "config_drift", name="watch_kind"),
        seconds(0, 604800, "hold_seconds"),
    ),
    "keepalived_watch_hook": optional(ARGV),
    "keepalived_watch_rate": Record({"count": integer(1, 1000), "period": integer(1, 86400)}, label=""),
    # the operator's own tracking; the rules across the items (names, the node's interface, weights): _tracking
    "keepalived_track_interfaces": ListOf(ScalarOr(INTERFACE, Record({"name": INTERFACE, "weight": TRACK_WEIGHT}, required=("name",)))),
    "keepalived_track_scripts": ListOf(Record({
        "name": TRACK_NAME, "script": ABS_PATH, "interval": integer(1, 3600), "timeout": integer(1, 3600),
        "fall": integer(1, 100), "rise": integer(1, 100), "weight": TRACK_WEIGHT,
    }, required=("name", "script"))),
    "keepalived_track_processes": ListOf(Record({
        "name": TRACK_NAME, "process": PROCESS_NAME, "params": ListOf(PROCESS_PARAM), "param_match": optional(PARAM_MATCH),
        "quorum": integer(1, 65535), "weight": TRACK_WEIGHT,
    }, required=("name", "process"))),
    "keepalived_track_files": ListOf(Record({
        "name": TRACK_NAME, "file": ABS_PATH, "weight": TRACK_WEIGHT, "init_file": optional(integer(-254, 254)),
    }, required=("name", "file"))),
    # keepalived directives the role does not model; the names the role owns are refused by _directives
    "keepalived_global_defs_directives": ListOf(Record({"name": KEEPALIVED_DIRECTIVE_NAME, "value": KEEPALIVED_DIRECTIVE_VALUE}, required=("name",))),
    "keepalived_instance_directives": ListOf(Record({"name": KEEPALIVED_DIRECTIVE_NAME, "value": KEEPALIVED_DIRECTIVE_VALUE}, required=("name",))),
    # run in order by halb-pair-notify.service; the rules across the items: _notify
    "keepalived_notify_hooks": ListOf(ScalarOr(ABS_PATH, Record({"path": ABS_PATH}, required=("path",), label="path"))),
    # the rules across the fields (address or fwmark, DR ports, NAT gateways, the VIPs): _lvs
    "keepalived_virtual_servers": ListOf(Record({
        "address": IP_ADDRESS, "fwmark": FWMARK, "port": PORT, "protocol": choice("TCP", "UDP", name="lvs_protocol"),
        "lb_algo": choice(*LVS_ALGOS, name="lvs_algo"), "lb_kind": choice("DR", "NAT", name="lvs_kind"),
        "persistence_timeout": optional(integer(1, 2678400)), "delay_loop": integer(1, 86400),
        "real_servers": ListOf(_REAL_SERVER), "real_servers_group": GROUP_NAME, "real_server_port": optional(PORT),
        "check": Record({
            "type": choice("HTTP_GET", "TCP_CHECK", "MISC_CHECK", "none", name="lvs_check"), "path": URI_PATH,
            "status_code": integer(100, 599), "script": ABS_PATH, "misc_timeout": optional(integer(1, 3600)),
            "connect_timeout": integer(1, 3600), "retry": integer(1, 100), "delay_before_retry": integer(0, 3600),
            "port": optional(PORT),
        }, label=""),
        "sorry_server": Record({"address": IP_ADDRESS, "port": PORT}, required=("address",), label=""),
        "inhibit_on_failure": BOOL,
    }, label="address")),
}

#: ``nginx_lb_http_directives`` and the ``directives:`` of servers and streams: ``[{name, value}]``.
NGINX_DIRECTIVES = ListOf(Record({"name": NGINX_DIRECTIVE_NAME, "value": NGINX_DIRECTIVE_VALUE}, required=("name", "value")))

NGINX_VARS: dict[str, Spec] = {
    "nginx_lb_conf_dir": ABS_PATH,
    "nginx_lb_libexec_dir": ABS_PATH,
    "nginx_lb_pid_file": ABS_PATH,
    "nginx_lb_error_log": NGINX_ERROR_LOG,
    "nginx_lb_access_log": NGINX_ACCESS_LOG,
    "nginx_lb_worker_processes": NGINX_WORKER_PROCESSES,
    "nginx_lb_worker_connections": integer(1, 1048576),
    "nginx_lb_upstreams": ListOf(Record({
        "name": NGINX_NAME, "method": choice("round_robin", "least_conn", "ip_hash", "hash", name="http_method"),
        "hash_key": HASH_KEY_HTTP, "hash_consistent": BOOL, "keepalive": integer(1, 10000),
        "servers": ListOf(_UPSTREAM_SERVER, min_len=1),
    }, required=("name", "servers"))),
    "nginx_lb_servers": ListOf(Record({
        "upstream": NGINX_NAME, "listen": ListOf(LISTEN_HTTP, min_len=1, scalar_ok=True), "server_name": SERVER_NAMES,
        "proxy_next_upstream": NEXT_UPSTREAM, "proxy_connect_timeout": DURATION, "proxy_read_timeout": DURATION,
        "proxy_send_timeout": DURATION, "directives": NGINX_DIRECTIVES,
        "tls": Record({"name": NGINX_NAME, "certificate": PEM_CERTIFICATE, "key": PEM_PRIVATE_KEY, "http2": BOOL,
                       "redirect_http": BOOL}, required=("name", "certificate", "key")),
    }, required=("upstream",), label="upstream")),
    "nginx_lb_streams": ListOf(Record({
        "name": NGINX_NAME, "listen": ListOf(LISTEN_STREAM, min_len=1, scalar_ok=True),
        "method": choice("round_robin", "least_conn", "hash", name="stream_method"), "hash_key": HASH_KEY_STREAM,
        "hash_consistent": BOOL, "proxy_connect_timeout": DURATION, "proxy_timeout": DURATION,
        "servers": ListOf(_UPSTREAM_SERVER, min_len=1), "directives": NGINX_DIRECTIVES,
    }, required=("name", "listen", "servers"))),
    "nginx_lb_proxy_next_upstream": NEXT_UPSTREAM,
    "nginx_lb_proxy_connect_timeout": DURATION,
    "nginx_lb_proxy_read_timeout": DURATION,
    "nginx_lb_proxy_send_timeout": DURATION,
    "nginx_lb_health_port": PORT,
    "nginx_lb_health_listen": LISTEN_HTTP,
    "nginx_lb_health_path": URI_PATH,
    "nginx_lb_health_leaving_file": ABS_PATH,
    "nginx_lb_status_path": optional(URI_PATH),
    "nginx_lb_http_directives": NGINX_DIRECTIVES,
}

LVS_REAL_SERVER_VARS: dict[str, Spec] = {
    # address literals (no /prefix): the role adds each as /32 or /128
    "lvs_real_server_vips": ListOf(IP_ADDRESS),
    "lvs_real_server_device": INTERFACE,
}

#: The types the argument specs cannot state, per role (the rest derive from the specs).
EXPLICIT: dict[str, dict[str, Spec]] = {"keepalived": KEEPALIVED_VARS, "nginx": NGINX_VARS, "lvs_real_server": LVS_REAL_SERVER_VARS}

#: ``C(LO)..C(HI)`` in an option's description: the range of a ``type: int`` or ``float`` option.
_RANGE = re.compile(r"C\((-?\d+(?:\.\d+)?)\)\.\.C\((-?\d+(?:\.\d+)?)\)")


def from_option(option: t.Mapping[str, t.Any]) -> Type | None:
    """The strict type an argument spec entry states (None: it states none precisely):
    ``choices``, ``type: bool``, or ``type: int``/``float`` with ``C(LO)..C(HI)`` in its
    description; ``or null`` when the option has no default."""
    kind = option.get("type", "str")
    description = option.get("description") or ""
    text = " ".join(description) if isinstance(description, list) else str(description)
    found = _RANGE.search(text)
    ty: Type | None = None
    if option.get("choices") and kind in ("str", "int"):
        ty = choice(*option["choices"])
    elif kind == "bool":
        ty = BOOL
    elif kind == "int" and found and "." not in found.group(1) + found.group(2):
        ty = integer(int(found.group(1)), int(found.group(2)))
    elif kind == "float" and found:
        ty = seconds(float(found.group(1)), float(found.group(2)))
    if ty is None:
        return None
    return optional(ty) if option.get("default") is None and not option.get("required") else ty


_ROLE_VARS: dict[str, dict[str, Spec]] = {}


def role_vars(role: str) -> dict[str, Spec]:
    """Every variable of ``role`` that reaches a template, with its type: the types its
    argument spec states (:func:`from_option`; read from the role's files on first use),
    then ``EXPLICIT``'s. A variable named in :data:`NOT_RENDERED` gets none."""
    if role not in EXPLICIT:
        raise KeyError(f"unknown role {role!r}; known: {', '.join(EXPLICIT)}")
    if role not in _ROLE_VARS:
        from ._defaults import role_options  # pylint: disable=import-outside-toplevel

        derived: dict[str, Spec] = {}
        for name, option in role_options(role).items():
            if name in EXPLICIT[role] or name in NOT_RENDERED:
                continue
            ty = from_option(option)
            if ty is not None:
                derived[name] = ty
        _ROLE_VARS[role] = {**derived, **EXPLICIT[role]}
    return _ROLE_VARS[role]


def __getattr__(name: str) -> t.Any:
    # ROLE_VARS: every role's role_vars, read from the roles' files on first use
    if name == "ROLE_VARS":
        return {role: role_vars(role) for role in EXPLICIT}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Role variables that never reach a configuration file's text (why they need no type here).
NOT_RENDERED: dict[str, str] = {
    "keepalived_group": "an inventory group name, read by the controller only",
    "keepalived_segment": "a name the controller compares across pairs, never rendered",
    "keepalived_conf_path": "the destination path, not content",
    "keepalived_package_state": "a package task's state (argument spec choices)",
    "keepalived_manage_service": "decides tasks (read with the bool filter)",
    "keepalived_restart_on_failure": "decides whether a static file is written",
    "keepalived_nonlocal_bind": "decides whether a static file is written",
    "keepalived_handover": "decides whether the hand-over units are written",
    "keepalived_crash_handover": "decides whether the crash hand-over files are written (their content comes from the pair model)",
    "keepalived_vrrp_guard": "decides whether the guard's table is written (its content comes from the pair model)",
    "keepalived_watch": "decides whether the watcher's files and unit are written (its configuration comes from the pair model)",
    "nginx_lb_package": "a package name for the package task",
    "nginx_lb_manage_service": "decides tasks (read with the bool filter)",
    "nginx_lb_nonlocal_bind": "decides whether a static file is written",
}


def _spec_name(spec: Spec) -> str:
    if isinstance(spec, Type):
        return spec.name
    if isinstance(spec, Vip):
        return "ip_prefix, or {address: ip_prefix, dev: interface, label: interface_label}"
    if isinstance(spec, MapOf):
        return f"mapping {spec.key.name} -> record"
    if isinstance(spec, ScalarOr):
        return f"{spec.scalar.name}, or {{{', '.join(spec.record.fields)}}}"
    if isinstance(spec, ListOf):
        return f"list of {_spec_name(spec.item)}" if not isinstance(spec.item, Record) else "list of records"
    return "record"


def table(role: str, explicit_only: bool = False) -> list[tuple[str, str]]:
    """``(variable path, type)`` for every value of ``role`` that reaches a template
    (``explicit_only``: those typed in ``EXPLICIT``, not by their argument spec)."""
    rows: list[tuple[str, str]] = []

    def walk(spec: Spec, path: str) -> None:
        rows.append((path, _spec_name(spec)))
        inner = spec.item if isinstance(spec, ListOf) else spec.value if isinstance(spec, MapOf) else spec
        sub = path + ("[]" if isinstance(spec, ListOf) else ".NAME" if isinstance(spec, MapOf) else "")
        if isinstance(inner, ScalarOr):
            inner = inner.record
        if isinstance(inner, Record):
            for k, s in inner.fields.items():
                walk(s, f"{sub}.{k}")
        elif isinstance(inner, Vip):
            for k, s in _VIP_RECORD.fields.items():
                rows.append((f"{sub}.{k}", _spec_name(s)))

    for name, spec in (EXPLICIT[role] if explicit_only else role_vars(role)).items():
        walk(spec, name)
    if role == "keepalived":
        rows.append(("keepalived_advert_int", "advert_int_v2 or advert_int_v3 (by keepalived_vrrp_version; v3 with IPv6 VIPs)"))
    return sorted(rows)


def _is_v6(vip: t.Any) -> bool:
    addr = vip.get("address") if isinstance(vip, t.Mapping) else vip
    return isinstance(addr, str) and ":" in addr


def check_role_vars(role: str, host: str, hostvars: t.Mapping[str, t.Any]) -> list[str]:
    """Every value of ``role`` in one host's variables that is not of its type (empty: all typed).

    Variables absent from ``hostvars`` are skipped: the role's defaults are typed too
    (a unit test checks them). Secrets are never quoted.
    """
    specs = role_vars(role)
    out: list[str] = []
    iface = hostvars.get("keepalived_interface", "eth0")
    iface = iface if isinstance(iface, str) else None
    for name, spec in specs.items():
        if name in hostvars:
            if name == "keepalived_vips":
                spec = ListOf(Vip(iface))  # a label without a dev begins with the node's interface
            _check(spec, hostvars[name], name, host, out, secret=name in SECRET_VARS)
    if role == "keepalived" and "keepalived_advert_int" in hostvars:
        version = hostvars.get("keepalived_vrrp_version", 3 if hostvars.get("keepalived_profile") == "fast" else 2)
        vips = hostvars.get("keepalived_vips") or []
        for inst in hostvars.get("keepalived_instances") or []:
            if isinstance(inst, t.Mapping) and isinstance(inst.get("vips"), list):
                vips = [*vips, *inst["vips"]]
        if version == 3 or (isinstance(vips, list) and any(_is_v6(v) for v in vips)):
            version = 3
        ty = ADVERT_INT_V3 if version == 3 else ADVERT_INT_V2
        _check(ty, hostvars["keepalived_advert_int"], "keepalived_advert_int", host, out)
    return out


def check_derived(instances: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    """The values the topology derives (``_topology.as_dicts``), typed before rendering:
    instance names (unique), VIPs, devices and generated labels (<= 15 bytes), node
    interfaces, states, priorities and unicast addresses."""
    out: list[str] = []
    seen: set[str] = set()
    for i, inst in enumerate(instances):
        name = inst.get("name")
        where = f"instance {name}" if isinstance(name, str) else f"instance {i + 1}"
        _check(INSTANCE_NAME, name, f"{where}: name", None, out)
        if name in seen:
            out.append(f"{where}: name {name!r} is used by more than one instance; instance names must be unique")
        seen.add(name)
        _check(VRID, inst.get("vrid"), f"{where}: virtual_router_id", None, out)
        version = inst.get("version")
        _check(ADVERT_INT_V3 if version == 3 else ADVERT_INT_V2, inst.get("advert_int"), f"{where}: advert_int", None, out)
        nodes = inst.get("nodes") or []
        # Each node renders its own view of the VIPs (its own dev, the labels generated
        # from it): typed per node; the instance's list where nodes carry none.
        per_node = any("vips" in n for n in nodes)
        views = [(n.get("host"), n.get("vips") or []) for n in nodes] if per_node else [(None, inst.get("vips") or [])]
        for j, vip in enumerate(inst.get("vips") or []):
            _check(IP_PREFIX, vip.get("cidr"), f"{where}: VIP {j + 1} address", None, out)
        for host, vips in views:
            for j, vip in enumerate(vips):
                vw = f"{where}: VIP {j + 1}"
                _check(INTERFACE, vip.get("dev"), f"{vw} dev", host, out)
                if vip.get("label") is not None:
                    dev = vip.get("dev") if isinstance(vip.get("dev"), str) else None
                    _check(interface_label(dev), vip.get("label"), f"{vw} label", host, out)
        for node in nodes:
            host = node.get("host")
            _check(INTERFACE, node.get("interface"), f"{where}: interface", host, out)
            _check(STATE, node.get("state"), f"{where}: state", host, out)
            _check(PRIORITY, node.get("priority"), f"{where}: priority", host, out)
            if inst.get("unicast"):
                _check(IP_ADDRESS, node.get("unicast_src_ip"), f"{where}: unicast_src_ip", host, out)
                for k, peer in enumerate(node.get("unicast_peers") or []):
                    _check(IP_ADDRESS, peer, f"{where}: unicast_peer {k + 1}", host, out)
    return out


def check_hosts(role: str, hosts: t.Sequence[str], hostvars: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """``check_role_vars`` for every host of a group, in order: the preflight's one line."""
    return [p for h in hosts for p in check_role_vars(role, h, hostvars.get(h, {}))]
