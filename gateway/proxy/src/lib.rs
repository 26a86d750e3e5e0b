//! Listeners, CONNECT, TLS interception, the request pipeline, upstream forwarding.
