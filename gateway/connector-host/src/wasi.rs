//! The whole WASI surface a connector gets, implemented here, synchronously.
//!
//! A std Rust guest built for `wasm32-wasip2` imports a dozen `wasi:cli/*`
//! and `wasi:io/*` interfaces even when it does no I/O. Of those, a
//! classifier only ever *uses* stdout/stderr (panic messages) and the
//! hash-map seed. This module implements exactly that:
//!
//! - `wasi:cli/stdout.get-stdout`, `wasi:cli/stderr.get-stderr`: a stream
//!   whose writes land in a bounded per-store buffer the host logs;
//! - `wasi:cli/environment`: no variables, no arguments, no working directory;
//! - the `output-stream` methods that write and flush, and an always-ready
//!   `pollable` for `subscribe` (nothing here ever blocks);
//! - `wasi:random/*`: seeds and bytes from the host's RNG.
//!
//! Every other imported function (exit, stdin,
//! polling, terminal queries, …) is linked as a stub that fails with
//! [`NotProvided`], so a guest that tries anything else fails its call, the
//! request is denied with `connector_error` and the failure is a
//! `forbidden_import` (recognized by that type, not by a message). Nothing here reaches a file, a socket, a clock or the
//! host's environment, and nothing blocks: these functions are safe to call
//! from a tokio worker thread (wasmtime-wasi's sync bindings are not: they
//! `block_on` an ambient runtime and panic inside one).
//!
//! Functions are defined under the exact interface names the component
//! imports (e.g. `wasi:io/streams@0.2.6`), so no semver lookup can be
//! shadowed by a trap stub.

use wasmtime::component::types::{ComponentInstance, ComponentItem};
use wasmtime::component::{
    Component, ComponentNamedList, ComponentType, Lift, Linker, LinkerInstance, Lower, Resource,
    ResourceType,
};
use wasmtime::{Engine, StoreContextMut};

use crate::state::StoreState;

/// Host side of `wasi:io/streams.output-stream` (stdout and stderr alike).
pub(crate) struct OutputStream;

/// Host side of `wasi:io/error.error`; never handed out.
pub(crate) struct IoError;

/// Host side of `wasi:io/poll.pollable`: always ready, since nothing here blocks.
pub(crate) struct Pollable;

/// `wasi:io/streams.stream-error`.
#[derive(ComponentType, Lift, Lower)]
#[component(variant)]
enum StreamError {
    #[component(name = "last-operation-failed")]
    LastOperationFailed(Resource<IoError>),
    #[component(name = "closed")]
    Closed,
}

type StreamResult<T> = Result<T, StreamError>;

/// Bytes a guest may write per call to `write` (what `check-write` permits).
const WRITE_CHUNK: u64 = 4096;

fn package_of(name: &str) -> &str {
    name.split_once('@').map_or(name, |(p, _)| p)
}

/// What a guest's call of an imported function this module does not
/// implement fails with; the connector host reports it as a
/// `forbidden_import` by downcasting to this type.
#[derive(Debug, thiserror::Error)]
#[error("called {0}, a host function connectors do not get")]
pub(crate) struct NotProvided(String);

/// One imported interface being linked: its linker instance and the names
/// defined in it so far, so the rest can be stubbed.
struct Iface<'a> {
    linker: LinkerInstance<'a, StoreState>,
    defined: Vec<&'static str>,
}

impl Iface<'_> {
    fn func_wrap<F, Params, Return>(&mut self, name: &'static str, func: F) -> wasmtime::Result<()>
    where
        F: Fn(StoreContextMut<'_, StoreState>, Params) -> wasmtime::Result<Return>
            + Send
            + Sync
            + 'static,
        Params: ComponentNamedList + Lift + 'static,
        Return: ComponentNamedList + Lower + 'static,
    {
        self.defined.push(name);
        self.linker.func_wrap(name, func)
    }

    fn resource(&mut self, name: &'static str, ty: ResourceType) -> wasmtime::Result<()> {
        if self.defined.contains(&name) {
            return Ok(());
        }
        self.defined.push(name);
        self.linker.resource(name, ty, |_, _| Ok(()))
    }

    /// Defines every export of `ty` not defined yet: functions fail with
    /// [`NotProvided`], resources are opaque host types.
    fn stub_rest(
        &mut self,
        interface: &str,
        ty: &ComponentInstance,
        engine: &Engine,
    ) -> wasmtime::Result<()> {
        for (name, export) in ty.exports(engine) {
            if self.defined.contains(&name) {
                continue;
            }
            match export.ty {
                ComponentItem::ComponentFunc(_) => {
                    let called = format!("{interface}#{name}");
                    self.linker.func_new(name, move |_, _, _, _| {
                        Err(wasmtime::Error::new(NotProvided(called.clone())))
                    })?;
                }
                ComponentItem::Resource(_) => {
                    self.linker
                        .resource(name, ResourceType::host::<()>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Adds this module's functions for every matching import of `component`,
/// then links every remaining function of those interfaces (our own
/// `log`/`types` excepted, which the caller has defined) as a stub failing
/// with [`NotProvided`].
pub(crate) fn link(linker: &mut Linker<StoreState>, component: &Component) -> wasmtime::Result<()> {
    let engine = component.engine().clone();
    let ty = component.component_type();
    for (name, import) in ty.imports(&engine) {
        let package = package_of(name);
        if package.starts_with("tameflare:") {
            continue;
        }
        let mut i = Iface {
            linker: linker.instance(name)?,
            defined: Vec::new(),
        };
        match package {
            "wasi:io/error" => io_error(&mut i)?,
            "wasi:io/poll" => poll(&mut i)?,
            "wasi:io/streams" => streams(&mut i)?,
            "wasi:cli/stdout" => {
                output_stream_type(&mut i)?;
                i.func_wrap(
                    "get-stdout",
                    |_: StoreContextMut<'_, StoreState>, (): ()| {
                        Ok((Resource::<OutputStream>::new_own(1),))
                    },
                )?;
            }
            "wasi:cli/stderr" => {
                output_stream_type(&mut i)?;
                i.func_wrap(
                    "get-stderr",
                    |_: StoreContextMut<'_, StoreState>, (): ()| {
                        Ok((Resource::<OutputStream>::new_own(2),))
                    },
                )?;
            }
            "wasi:cli/environment" => {
                // An empty environment: std's panic handler asks for RUST_BACKTRACE.
                i.func_wrap(
                    "get-environment",
                    |_: StoreContextMut<'_, StoreState>, (): ()| {
                        Ok((Vec::<(String, String)>::new(),))
                    },
                )?;
                i.func_wrap(
                    "get-arguments",
                    |_: StoreContextMut<'_, StoreState>, (): ()| Ok((Vec::<String>::new(),)),
                )?;
                i.func_wrap(
                    "initial-cwd",
                    |_: StoreContextMut<'_, StoreState>, (): ()| Ok((Option::<String>::None,)),
                )?;
            }
            "wasi:random/insecure-seed" => {
                i.func_wrap(
                    "insecure-seed",
                    |_: StoreContextMut<'_, StoreState>, (): ()| Ok(((rand_u64(), rand_u64()),)),
                )?;
            }
            "wasi:random/random" => {
                i.func_wrap(
                    "get-random-bytes",
                    |_: StoreContextMut<'_, StoreState>, (len,): (u64,)| Ok((random_bytes(len)?,)),
                )?;
                i.func_wrap(
                    "get-random-u64",
                    |_: StoreContextMut<'_, StoreState>, (): ()| Ok((rand_u64(),)),
                )?;
            }
            "wasi:random/insecure" => {
                i.func_wrap(
                    "get-insecure-random-bytes",
                    |_: StoreContextMut<'_, StoreState>, (len,): (u64,)| Ok((random_bytes(len)?,)),
                )?;
                i.func_wrap(
                    "get-insecure-random-u64",
                    |_: StoreContextMut<'_, StoreState>, (): ()| Ok((rand_u64(),)),
                )?;
            }
            _ => {}
        }
        if let ComponentItem::ComponentInstance(iface) = &import.ty {
            i.stub_rest(name, iface, &engine)?;
        }
    }
    // Anything still undefined (nothing an interface import that passed the
    // allowlist leaves) traps.
    linker.define_unknown_imports_as_traps(component)
}

// A resource type re-exported by several interfaces (`use wasi:io/streams.{output-stream}`)
// must be the same host type in each of them.

fn io_error(i: &mut Iface<'_>) -> wasmtime::Result<()> {
    i.resource("error", ResourceType::host::<IoError>())
}

fn pollable_type(i: &mut Iface<'_>) -> wasmtime::Result<()> {
    i.resource("pollable", ResourceType::host::<Pollable>())
}

fn poll(i: &mut Iface<'_>) -> wasmtime::Result<()> {
    pollable_type(i)?;
    i.func_wrap(
        "[method]pollable.ready",
        |_: StoreContextMut<'_, StoreState>, (_p,): (Resource<Pollable>,)| Ok((true,)),
    )?;
    i.func_wrap(
        "[method]pollable.block",
        |_: StoreContextMut<'_, StoreState>, (_p,): (Resource<Pollable>,)| Ok(()),
    )?;
    // Every pollable is ready: report all of them.
    i.func_wrap(
        "poll",
        |_: StoreContextMut<'_, StoreState>, (ps,): (Vec<Resource<Pollable>>,)| {
            let ready: Vec<u32> = (0..ps.len())
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect();
            Ok((ready,))
        },
    )
}

fn output_stream_type(i: &mut Iface<'_>) -> wasmtime::Result<()> {
    i.resource("output-stream", ResourceType::host::<OutputStream>())
}

fn streams(i: &mut Iface<'_>) -> wasmtime::Result<()> {
    io_error(i)?;
    pollable_type(i)?;
    output_stream_type(i)?;
    i.func_wrap(
        "[method]output-stream.subscribe",
        |_: StoreContextMut<'_, StoreState>, (_s,): (Resource<OutputStream>,)| {
            Ok((Resource::<Pollable>::new_own(0),))
        },
    )?;
    i.func_wrap(
        "[method]output-stream.check-write",
        |store: StoreContextMut<'_, StoreState>, (_s,): (Resource<OutputStream>,)| {
            let room = store.data().output_room() as u64;
            let r: StreamResult<u64> = if room == 0 {
                Err(StreamError::Closed)
            } else {
                Ok(room.min(WRITE_CHUNK))
            };
            Ok((r,))
        },
    )?;
    for method in [
        "[method]output-stream.write",
        "[method]output-stream.blocking-write-and-flush",
    ] {
        i.func_wrap(
            method,
            |mut store: StoreContextMut<'_, StoreState>,
             (_s, bytes): (Resource<OutputStream>, Vec<u8>)| {
                let r: StreamResult<()> = if store.data_mut().write_output(&bytes) {
                    Ok(())
                } else {
                    Err(StreamError::Closed)
                };
                Ok((r,))
            },
        )?;
    }
    for method in [
        "[method]output-stream.flush",
        "[method]output-stream.blocking-flush",
    ] {
        i.func_wrap(
            method,
            |_: StoreContextMut<'_, StoreState>, (_s,): (Resource<OutputStream>,)| {
                Ok((StreamResult::<()>::Ok(()),))
            },
        )?;
    }
    Ok(())
}

/// Random bytes from the host's RNG, bounded so a guest cannot make the host allocate without limit.
fn random_bytes(len: u64) -> wasmtime::Result<Vec<u8>> {
    const MAX: u64 = 64 * 1024;
    if len > MAX {
        wasmtime::bail!("get-random-bytes: {len} bytes requested, at most {MAX} allowed");
    }
    let mut v = vec![0u8; len as usize];
    rand::fill(&mut v[..]);
    Ok(v)
}

fn rand_u64() -> u64 {
    rand::random()
}
