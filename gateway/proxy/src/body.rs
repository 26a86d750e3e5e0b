//! Body wrappers: the upstream request body (streamed or the buffered
//! classification body) and the agent response body, which counts bytes and
//! hands the request's audit record to its [`Recorder`] when it ends, fails
//! or is dropped (a body dropped before its end records `client_closed`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tf_core::placeholder;

use crate::record::Recorder;

/// The body sent upstream.
pub(crate) enum UpBody {
    /// The agent's body, relayed frame by frame, counted into `counter`.
    Stream {
        body: Incoming,
        counter: Arc<AtomicU64>,
        scan: PlaceholderScan,
    },
    /// A body read whole for classification, forwarded unchanged.
    Full(Option<Bytes>),
}

/// Why a streamed request body was cut off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpBodyError {
    #[error(transparent)]
    Agent(#[from] hyper::Error),
    #[error("the request body contains a placeholder credential; it was not sent")]
    Placeholder,
}

/// Watches a streamed body for a placeholder credential, also across frame
/// boundaries (it keeps the last bytes of each frame).
pub(crate) struct PlaceholderScan {
    tail: Vec<u8>,
    found: Arc<AtomicBool>,
}

impl PlaceholderScan {
    pub(crate) fn new(found: Arc<AtomicBool>) -> Self {
        Self {
            tail: Vec::new(),
            found,
        }
    }

    /// True if `data`, after what came before, holds a placeholder.
    fn check(&mut self, data: &[u8]) -> bool {
        let keep = placeholder::PREFIX.len() - 1;
        let hit = if self.tail.is_empty() {
            placeholder::contains(data)
        } else {
            // Only the seam needs the copy: the tail plus the frame's start.
            let mut seam = std::mem::take(&mut self.tail);
            seam.extend_from_slice(&data[..data.len().min(keep)]);
            placeholder::contains(&seam) || placeholder::contains(data)
        };
        self.tail.clear();
        self.tail
            .extend_from_slice(&data[data.len().saturating_sub(keep)..]);
        if hit {
            self.found.store(true, Ordering::Relaxed);
        }
        hit
    }
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = UpBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpBodyError>>> {
        match self.get_mut() {
            UpBody::Stream {
                body,
                counter,
                scan,
            } => {
                let frame = ready!(Pin::new(body).poll_frame(cx));
                if let Some(Ok(f)) = &frame
                    && let Some(d) = f.data_ref()
                {
                    if scan.check(d) {
                        return Poll::Ready(Some(Err(UpBodyError::Placeholder)));
                    }
                    counter.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(frame.map(|f| f.map_err(UpBodyError::from)))
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

enum Kind {
    Upstream(Incoming),
    Full(Option<Bytes>),
}

/// The body of every response the proxy sends to an agent.
pub struct ResponseBody {
    kind: Kind,
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub(crate) fn upstream(body: Incoming, recorder: Recorder) -> Self {
        Self {
            kind: Kind::Upstream(body),
            recorder: Some(recorder),
        }
    }

    pub(crate) fn full(bytes: Bytes, recorder: Option<Recorder>) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            recorder,
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // hyper stops polling once `is_end_stream` says the body is done
        // (a `content-length` body after its last byte, an empty body), so
        // that counts as the end; otherwise the recorder's own drop says
        // what an unfinished body means.
        if self.is_end_stream()
            && let Some(r) = self.recorder.take()
        {
            r.finish();
        }
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
                if let (Some(d), Some(r)) = (f.data_ref(), this.recorder.as_mut()) {
                    r.add_bytes_down(d.len());
                }
            }
            Some(Err(_)) => {
                if let Some(r) = this.recorder.take() {
                    r.body_failed();
                }
            }
            None => {
                if let Some(r) = this.recorder.take() {
                    r.finish();
                }
            }
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
