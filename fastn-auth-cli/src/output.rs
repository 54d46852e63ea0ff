//! What the commands print: credentials redacted, server text escaped, JSON a terminal
//! shows as it is, a spinner only on a terminal.

use std::io::IsTerminal as _;
use std::time::Duration;

use fastn_auth::{Credentials, ExposeSecret as _, SessionHandle};
use serde_json::{Value, json};

use crate::Cli;

/// The credentials, redacted unless `--reveal`, as text or JSON.
pub(crate) fn print_credentials(cli: &Cli, credentials: &Credentials, handle: Option<&SessionHandle>) {
    let mut shown = if cli.reveal {
        json!({
            "access_token": credentials.access_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "refresh_token": credentials.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "expires_at": credentials.to_redacted_json()["expires_at"],
            "extra": *credentials.extra,
        })
    } else {
        credentials.to_redacted_json()
    };
    if let Some(handle) = handle {
        shown["state"] = json!(handle.state());
    }
    if cli.json {
        print_json(&shown);
        return;
    }
    for (key, value) in shown.as_object().into_iter().flatten() {
        match value {
            Value::Object(extra) if key == "extra" => {
                for (field, value) in extra {
                    println!("{}: {}", escaped(field), escaped(&text(value)));
                }
            }
            Value::Null => {}
            value => println!("{}: {}", escaped(key), escaped(&text(value))),
        }
    }
}

/// Each line of `text`, escaped, on stdout.
pub(crate) fn print_lines(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", escaped(line));
    }
}

/// A JSON value on stdout on one line, every character a terminal would not show as
/// itself (bidi and C1 controls, invisible format characters) as a `\\u` escape.
pub(crate) fn print_json(value: &Value) {
    println!("{}", fastn_auth_rules::terminal_json(&value.to_string()));
}

/// Text from the server for a terminal: control characters (escape sequences, line breaks
/// that would forge another line) and bidirectional overrides shown escaped, never obeyed.
pub(crate) fn escaped(text: &str) -> String {
    fastn_auth_rules::escape(text, usize::MAX)
}

/// A JSON value as a person reads it: strings without quotes.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A spinner on stderr when it is a terminal; nothing otherwise (scripts, CI logs).
pub(crate) fn spinner(message: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// Opens `url` in the desktop's browser; says so when it cannot.
pub(crate) fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        std::process::Command::new("open").arg(url).status()
    } else if cfg!(windows) {
        std::process::Command::new("cmd").args(["/C", "start", "", url]).status()
    } else {
        std::process::Command::new("xdg-open").arg(url).status()
    };
    if !opener.is_ok_and(|status| status.success()) {
        eprintln!("Could not open a browser; open the URL above yourself.");
    }
}
