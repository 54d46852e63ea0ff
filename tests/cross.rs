//! The cross-crate tests that can share a process, one module per file beside this one
//! (`cargo test -p fastn-auth-tests --test cross api::` runs one of them): the SDK against
//! the emulator, Redis, a real browser, proxies, property tests, the leak test.

/// The agent_loop example, which `tools` runs.
#[path = "../examples/agent_loop.rs"]
mod example_agent_loop;

/// The web_app example, which `browser` and `web_app` drive.
#[path = "../examples/web_app.rs"]
mod example_web_app;

#[path = "agents.rs"]
mod agents;
#[path = "api.rs"]
mod api;
#[path = "blocking.rs"]
mod blocking;
#[path = "bridges.rs"]
mod bridges;
#[path = "browser.rs"]
mod browser;
#[path = "connections.rs"]
mod connections;
#[path = "documented_stub.rs"]
mod documented_stub;
#[path = "fault_matrix.rs"]
mod fault_matrix;
#[path = "hardening.rs"]
mod hardening;
#[path = "health.rs"]
mod health;
#[path = "leaks.rs"]
mod leaks;
#[path = "mcp.rs"]
mod mcp;
#[path = "properties.rs"]
mod properties;
#[path = "provider_formats.rs"]
mod provider_formats;
#[path = "proxy.rs"]
mod proxy;
#[path = "redis.rs"]
mod redis;
#[path = "redis_production.rs"]
mod redis_production;
#[path = "tools.rs"]
mod tools;
#[path = "typed_connectors.rs"]
mod typed_connectors;
#[path = "web_app.rs"]
mod web_app;
