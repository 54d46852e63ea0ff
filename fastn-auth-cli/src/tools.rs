//! `tools`: list a registry's tools, print them for a model, run one for a tenant, and sync
//! the registry from Fastn.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use fastn_auth_agent::{ModelFormat, Registry, RegistrySync, ToolSet};
use serde_json::{Value, json};

use crate::output::{escaped, print_json};
use crate::{Cli, Failure, Target, client, usage};

/// Where the tools come from: `--registry`, else the manifest's `registry:`, else
/// `.fastn/registry.json`.
#[derive(clap::Args)]
pub(crate) struct Source {
    /// The registry file (default: the manifest's `registry:`, else .fastn/registry.json).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// The manifest whose `registry:` names the file, and whose `tools:` select the tools
    /// `list` and `schema` print.
    #[arg(long, default_value = "connectors.yaml")]
    manifest: PathBuf,
    /// Every tool of the registry, not only those the manifest selects.
    #[arg(long)]
    all: bool,
}

impl Source {
    /// The registry file's path, as the options say.
    pub(crate) fn path(&self) -> Result<PathBuf, Failure> {
        if let Some(path) = &self.registry {
            return Ok(path.clone());
        }
        manifest_registry(&self.manifest)
            .map(|path| path.unwrap_or_else(|| PathBuf::from(".fastn/registry.json")))
    }

    fn read(&self) -> Result<Registry, Failure> {
        read_registry(&self.path()?)
    }

    /// The tools a model is given: those the manifest's `tools:` select — exactly what the
    /// generated `tool_set()` holds — unless `--all`, `--registry` or a manifest that selects
    /// none asks for the whole registry.
    fn read_selected(&self) -> Result<Registry, Failure> {
        let registry = self.read()?;
        if self.all || self.registry.is_some() || !self.manifest.exists() {
            return Ok(registry);
        }
        let written = self.manifest.display().to_string();
        let text =
            fastn_auth_codegen::read_text(&self.manifest, &written).map_err(|err| usage(err.to_string()))?;
        let manifest =
            fastn_auth_codegen::load(&self.manifest, &written).map_err(|err| usage(err.to_string()))?;
        if manifest.connectors.iter().all(|spec| spec.tools.is_none()) {
            return Ok(registry);
        }
        let selected = fastn_auth_codegen::tools::select(&manifest, &registry, &text, &written)
            .map_err(|err| usage(err.to_string()))?;
        Ok(fastn_auth_codegen::tools::selected_registry(&selected))
    }
}

/// The registry `manifest` names (relative to its directory), when it exists and names one.
pub(crate) fn manifest_registry(manifest: &Path) -> Result<Option<PathBuf>, Failure> {
    if !manifest.exists() {
        return Ok(None);
    }
    let written = manifest.display().to_string();
    let spec = fastn_auth_codegen::load(manifest, &written).map_err(|err| usage(err.to_string()))?;
    Ok(spec.registry.map(|relative| manifest.parent().unwrap_or(Path::new(".")).join(relative)))
}

/// Reads and checks the registry at `path`, as the macro reads it.
pub(crate) fn read_registry(path: &Path) -> Result<Registry, Failure> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|err| {
        usage(format!("cannot read the registry {shown}: {err} (write it with `fastn-auth tools sync`)"))
    })?;
    Registry::parse(&text).map_err(|err| usage(format!("the registry {shown}: {err}")))
}

/// The tools of `connector` (all when `None`), as a model sees them.
fn tool_set(registry: &Registry, connector: Option<&str>) -> Result<ToolSet, Failure> {
    let set = ToolSet::from_registry(registry);
    let Some(connector) = connector else { return Ok(set) };
    let key = fastn_auth_rules::registry::registry_key(connector);
    if registry.connector(&key).is_none() {
        let keys: Vec<&str> = registry.connectors.iter().map(|c| c.key.as_str()).collect();
        let hint = fastn_auth_rules::did_you_mean(&key, &keys)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        return Err(usage(format!("the registry has no connector `{}`{hint}", escaped(connector))));
    }
    let names: Vec<String> =
        set.names().filter(|name| set.connector_of(name) == Some(key.as_str())).map(str::to_owned).collect();
    Ok(set.only(names)?)
}

/// `tools list [connector]`: a line per tool (model name, connector, tool, description).
pub(crate) fn list(cli: &Cli, source: &Source, connector: Option<&str>) -> Result<(), Failure> {
    let registry = source.read_selected()?;
    let set = tool_set(&registry, connector)?;
    let rows: Vec<Value> = set
        .names()
        .map(|name| {
            let tool = set.tool(name).map(|tool| tool.key.clone()).unwrap_or_default();
            json!({"name": name, "connector": set.connector_of(name), "tool": tool, "description": set.description(name)})
        })
        .collect();
    if cli.json {
        print_json(&Value::Array(rows));
        return Ok(());
    }
    for row in &rows {
        let text = |key: &str| escaped(row[key].as_str().unwrap_or_default());
        let description: String = text("description").chars().take(80).collect();
        println!("{}\t{}\t{}\t{description}", text("name"), text("connector"), text("tool"));
    }
    Ok(())
}

/// `tools schema`: the tool list a model provider takes.
pub(crate) fn schema(
    source: &Source,
    format: &str,
    strict: bool,
    connector: Option<&str>,
) -> Result<(), Failure> {
    let format: ModelFormat = format.parse()?;
    if strict && format.strict() == format && !format.as_str().ends_with("-strict") {
        return Err(usage(format!(
            "--strict is OpenAI's mode: give --format openai or openai-responses, not {}",
            format.as_str()
        )));
    }
    let format = if strict { format.strict() } else { format };
    let set = tool_set(&source.read_selected()?, connector)?;
    let pretty = serde_json::to_string_pretty(&set.format(format)).unwrap_or_default();
    println!("{}", fastn_auth_rules::terminal_json(&pretty));
    Ok(())
}

/// `tools run`: one tool for a tenant; the provider's status on stderr, the body on stdout,
/// exit code 4 for a status of 400 or more.
pub(crate) async fn run(cli: &Cli, args: &RunArgs) -> Result<(), Failure> {
    let arguments = match (&args.arguments, &args.data) {
        (Some(_), Some(_)) => {
            return Err(usage("give the arguments once: as the last argument or with --data"));
        }
        (Some(text), None) | (None, Some(text)) => text.as_str(),
        (None, None) => "{}",
    };
    let arguments: Value =
        serde_json::from_str(arguments).map_err(|err| usage(format!("the arguments are not JSON: {err}")))?;
    let set = ToolSet::from_registry(&args.source.read()?);
    let client = client(cli)?;
    let mut tools = set.bind(&client);
    if let Some(tenant) = &args.target.tenant {
        tools = tools.tenant_id(tenant.clone());
    }
    if args.target.no_tenant {
        tools = tools.no_tenant();
    }
    if let Some(connection) = &args.target.connection {
        tools = tools.connection_id(connection.clone());
    }
    let call = tools.call_tool(&args.connector, &args.tool, arguments)?;
    // The body as Fastn sent it, never decoded into a tree: an answer of any size costs
    // about twice its bytes, not twenty times.
    let output = call.idempotent(args.idempotent).send_raw().await?;
    let status = output.status();
    let body = fastn_auth_rules::terminal_json(output.body());
    if cli.json {
        let status = status.map_or_else(|| "null".to_owned(), |s| s.to_string());
        println!("{{\"status\":{status},\"body\":{body}}}");
    } else {
        eprintln!(
            "{}",
            status.map_or_else(
                || "provider status: none given".to_owned(),
                |s| format!("provider status: {s}")
            )
        );
        println!("{body}");
    }
    if !output.is_success() {
        let status = status.map_or_else(String::new, |s| s.to_string());
        return Err(Failure { code: 4, message: format!("the provider answered {status}") });
    }
    Ok(())
}

/// The arguments of `tools run`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The connector id, e.g. slack.
    connector: String,
    /// The tool, by its registry name: send_message.
    tool: String,
    /// The arguments as JSON (the group's fields when the tool has one group).
    arguments: Option<String>,
    #[command(flatten)]
    target: Target,
    /// The arguments as JSON, instead of the last argument.
    #[arg(long)]
    data: Option<String>,
    /// The tool only reads: retry it after a failure that may have reached Fastn.
    #[arg(long)]
    idempotent: bool,
    #[command(flatten)]
    source: Source,
}

/// `tools sync`: the registry from Fastn's GraphQL, every source and page; written only
/// when nothing failed (or with `--partial`).
pub(crate) async fn sync(
    cli: &Cli,
    out: Option<&Path>,
    org: Option<&str>,
    partial: bool,
    manifest: &Path,
) -> Result<(), Failure> {
    let client = client(cli)?;
    let out = match out {
        Some(path) => path.to_owned(),
        None => manifest_registry(manifest)?.unwrap_or_else(|| PathBuf::from(".fastn/registry.json")),
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0).with_message("reading tools")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let synced = RegistrySync::read(&client, org, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    for failure in &synced.failures {
        let what = failure.connector.as_deref().map_or_else(
            || format!("source {}", failure.source),
            |c| format!("connector {c} ({})", failure.source),
        );
        eprintln!("failed: {}: {}", escaped(&what), escaped(&failure.error));
    }
    if !synced.failures.is_empty() && !partial {
        return Err(Failure {
            code: 3,
            message: format!(
                "{} part(s) of the registry could not be read; nothing written (--partial writes the rest)",
                synced.failures.len()
            ),
        });
    }
    let text = serde_json::to_string_pretty(&synced.registry.to_json()).unwrap_or_default() + "\n";
    if let Some(dir) = out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|err| usage(format!("cannot create {}: {err}", dir.display())))?;
    }
    std::fs::write(&out, text).map_err(|err| usage(format!("cannot write {}: {err}", out.display())))?;
    let tools: usize = synced.registry.connectors.iter().map(|c| c.tools.len()).sum();
    if cli.json {
        print_json(
            &json!({"path": out.display().to_string(), "connectors": synced.registry.connectors.len(), "tools": tools}),
        );
    } else {
        println!("wrote {} connectors, {tools} tools to {}", synced.registry.connectors.len(), out.display());
    }
    Ok(())
}
