//! The consent page a user sees at the emulator's `redirectUrl`.

use crate::store::PendingView;

/// The page for a pending flow, with Approve and Deny buttons that POST back.
pub(crate) fn page(view: &PendingView) -> String {
    let connector = escape(&view.connector_id);
    let description =
        view.description.as_deref().map(|text| format!("<p>{}</p>\n", escape(text))).unwrap_or_default();
    let tenant = if view.tenant_id.is_empty() { "(no tenant)".to_owned() } else { escape(&view.tenant_id) };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect {connector} · Fastn emulator</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem}}</style></head>
<body><main>
<h1>Connect {connector}</h1>
{description}<p>Tenant <strong>{tenant}</strong> of org <strong>{org}</strong> asks for access to <strong>{connector}</strong>.</p>
<form method="post" action="/authorize">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p><small>Fastn API emulator: no real account is connected.</small></p>
</main></body></html>
"#,
        org = escape(&view.org_id),
        state = escape(&view.state),
        csrf = escape(&view.csrf),
    )
}

/// The page after a decision.
pub(crate) fn outcome(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1><p>{}</p></main></body></html>\n",
        escape(text)
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_echoed_is_escaped() {
        let view = PendingView {
            connector_id: "<script>alert(1)</script>".into(),
            description: Some("<b>Google</b> Sheets".into()),
            org_id: "o\"rg".into(),
            tenant_id: "t'&".into(),
            state: "s\"><img src=x>".into(),
            csrf: "c".into(),
        };
        let html = page(&view);
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"), "{html}");
        assert!(
            html.contains("<p>&lt;b&gt;Google&lt;/b&gt; Sheets</p>"),
            "the manifest's description: {html}"
        );
        assert!(
            html.contains("&lt;script&gt;") && html.contains("o&quot;rg") && html.contains("t&#39;&amp;")
        );
    }
}
