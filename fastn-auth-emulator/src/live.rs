//! The opening every example shares: the live Fastn API when the environment names a space,
//! else a local emulator.

use fastn_auth::FastnAuth;

use crate::{MockServer, MockServerBuilder};

impl MockServerBuilder {
    /// The client of the live Fastn API when `FASTN_SPACE_ID` is set (read by
    /// [`FastnAuth::from_env`], with the rest of the `FASTN_*` variables), else the client
    /// of the emulator this builder starts, returned beside it. Keep the emulator alive as
    /// long as the client is used; set up its connections through the `Option`.
    ///
    /// # Errors
    /// [`StartError::Live`] with what [`FastnAuth::from_env`] says, or
    /// [`StartError::Emulator`] with what [`start`](Self::start) says.
    pub async fn start_unless_live(self) -> Result<(FastnAuth, Option<MockServer>), StartError> {
        if std::env::var_os("FASTN_SPACE_ID").is_some() {
            return Ok((FastnAuth::from_env().map_err(StartError::Live)?, None));
        }
        let emulator = self.start().await.map_err(StartError::Emulator)?;
        Ok((emulator.client(), Some(emulator)))
    }
}

/// Why [`MockServerBuilder::start_unless_live`] has no client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `FASTN_SPACE_ID` is set, and the rest of the environment does not make a client.
    #[error("the live Fastn API (FASTN_SPACE_ID is set): {0}")]
    Live(#[source] fastn_auth::Error),
    /// The emulator did not start.
    #[error("the emulator did not start: {0}")]
    Emulator(#[source] std::io::Error),
}
