"""Which headers name the original request behind a reverse proxy (``--route-header``). A module of
its own, with no imports: ``custodes guard verify`` runs per token at the edge and must not load the
server (Starlette, prometheus_client) to offer the option's choices."""

#: --route-header -> the (URI, method) headers read, in order
ROUTE_HEADERS = {"auto": ((b"x-original-uri", b"x-original-method"),
                          (b"x-forwarded-uri", b"x-forwarded-method")),
                 "x-original-uri": ((b"x-original-uri", b"x-original-method"),),
                 "x-forwarded-uri": ((b"x-forwarded-uri", b"x-forwarded-method"),)}
