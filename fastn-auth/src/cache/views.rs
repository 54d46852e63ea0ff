//! Typed views of a cached answer: the `Credentials<E>` a caller asked for, made once per
//! answer and type from the untyped answer the slot holds.

use std::any::TypeId;
use std::sync::Arc;

use super::slot::Slot;
use crate::credentials::{Credentials, Extra};
use crate::error::{Error, Result};
use crate::wire::Endpoint;

/// The cached answer as `Credentials<E>`: a clone of the view made for `E`, made once.
pub(super) fn view<E: Extra>(slot: &mut Slot, connector_id: &str) -> Result<Credentials<E>> {
    let Some(cached) = slot.cached.as_mut() else {
        return Err(Error::config("the cached credentials went away while being read"));
    };
    let wanted = TypeId::of::<Credentials<E>>();
    if let Some((_, view)) = cached.views.iter().find(|(id, _)| *id == wanted)
        && let Some(credentials) = view.downcast_ref::<Credentials<E>>()
    {
        return Ok(credentials.clone());
    }
    let typed = cached
        .raw
        .to_typed::<E>(connector_id)
        .map_err(|err| Error::decode(Endpoint::Credentials, None, err))?;
    cached.views.push((wanted, Arc::new(typed.clone())));
    Ok(typed)
}
