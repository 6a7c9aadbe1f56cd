"""An nginx configuration that puts ``custodes guard serve`` in front of an upstream app with
``auth_request``: what the integration test and the benchmark run, and a starting point for
operators (docs/guard.md explains each part)."""

from __future__ import annotations

from pathlib import Path

_TEMPLATE = """\
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    upstream custodes_guard {{ server {guard}; keepalive 32; }}
    upstream app {{ server {upstream}; keepalive 32; }}

    server {{
        listen {listen};

        # The auth sub-request: only headers travel; the guard reads the original request's
        # method, URI and client address from these, so it must be reachable by nginx alone.
        location = /_custodes_auth {{
            internal;
            proxy_pass http://custodes_guard/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Request-ID $request_id;
        }}

        location / {{
            auth_request /_custodes_auth;
            auth_request_set $custodes_subject $upstream_http_x_custodes_subject;
            auth_request_set $custodes_token_id $upstream_http_x_custodes_token_id;
            auth_request_set $custodes_kid $upstream_http_x_custodes_kid;
            # The app trusts these headers only from nginx: each is set from the guard's answer,
            # so a client's own copy never reaches the app (an empty value drops the header).
            proxy_set_header X-Custodes-Subject $custodes_subject;
            proxy_set_header X-Custodes-Token-Id $custodes_token_id;
            proxy_set_header X-Custodes-Kid $custodes_kid;
            proxy_set_header X-Custodes-Reason "";
            proxy_set_header X-Request-ID $request_id;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }}
    }}
}}
"""


def nginx_conf(prefix: str | Path, listen: str, guard: str, upstream: str, workers: int = 1) -> str:
    """nginx.conf text. ``listen``, ``guard`` and ``upstream`` are ``host:port``."""
    return _TEMPLATE.format(prefix=prefix, listen=listen, guard=guard, upstream=upstream,
                            workers=workers)
