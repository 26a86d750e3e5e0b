//! Body wrappers: the upstream request body (streamed or the buffered
//! classification body) and the agent response body, which counts bytes and
//! emits the request's single audit entry when it ends or is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tf_core::{AuditEntry, AuditSink};

/// The body sent upstream.
pub(crate) enum UpBody {
    /// The agent's body, relayed frame by frame, counted into `counter`.
    Stream {
        body: Incoming,
        counter: Arc<AtomicU64>,
    },
    /// A body read whole for classification, forwarded unchanged.
    Full(Option<Bytes>),
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            UpBody::Stream { body, counter } => {
                let frame = ready!(Pin::new(body).poll_frame(cx));
                if let Some(Ok(f)) = &frame
                    && let Some(d) = f.data_ref()
                {
                    counter.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(frame)
            }
            UpBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpBody::Stream { body, .. } => body.is_end_stream(),
            UpBody::Full(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpBody::Stream { body, .. } => body.size_hint(),
            UpBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

/// Emits one audit entry, once.
pub(crate) struct AuditGuard {
    pub(crate) entry: AuditEntry,
    pub(crate) sink: Arc<dyn AuditSink>,
    pub(crate) bytes_up: Arc<AtomicU64>,
    pub(crate) bytes_down: u64,
}

impl AuditGuard {
    fn finish(mut self) {
        self.entry.bytes_up = self.bytes_up.load(Ordering::Relaxed);
        self.entry.bytes_down = self.bytes_down;
        self.sink.record(self.entry);
    }
}

enum Kind {
    Upstream(Incoming),
    Full(Option<Bytes>),
}

/// The body of every response the proxy sends to an agent.
pub struct ResponseBody {
    kind: Kind,
    guard: Option<AuditGuard>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub(crate) fn upstream(body: Incoming, guard: AuditGuard) -> Self {
        Self {
            kind: Kind::Upstream(body),
            guard: Some(guard),
        }
    }

    pub(crate) fn full(bytes: Bytes, guard: Option<AuditGuard>) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            guard,
        }
    }

    fn finish(&mut self) {
        if let Some(g) = self.guard.take() {
            g.finish();
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = match &mut this.kind {
            Kind::Upstream(body) => ready!(Pin::new(body).poll_frame(cx)),
            Kind::Full(b) => b.take().map(|b| Ok(Frame::data(b))),
        };
        match &frame {
            Some(Ok(f)) => {
                if let (Some(d), Some(g)) = (f.data_ref(), this.guard.as_mut()) {
                    g.bytes_down += d.len() as u64;
                }
            }
            Some(Err(_)) | None => this.finish(),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(b) => b.is_end_stream(),
            Kind::Full(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(b) => b.size_hint(),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
