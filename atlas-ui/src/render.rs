//! [`Views`]: the page templates, compiled into the binary
//! (`templates/*.html` through `include_str!`), rendered by minijinja with
//! HTML autoescaping; and the two static files (the stylesheet and the
//! optional refresh script).

use minijinja::Environment;

/// The templates by name.
const TEMPLATES: [(&str, &str); 12] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("instances.html", include_str!("../templates/instances.html")),
    ("instance.html", include_str!("../templates/instance.html")),
    ("jobs.html", include_str!("../templates/jobs.html")),
    ("commands.html", include_str!("../templates/commands.html")),
    ("command_run.html", include_str!("../templates/command_run.html")),
    ("code.html", include_str!("../templates/code.html")),
    ("rollouts.html", include_str!("../templates/rollouts.html")),
];

/// The stylesheet, served at `<prefix>/static/style.css`.
pub(crate) const STYLE: &str = include_str!("../static/style.css");
/// The refresh script, served at `<prefix>/static/refresh.js`.
pub(crate) const SCRIPT: &str = include_str!("../static/refresh.js");

/// The compiled templates.
#[derive(Debug)]
pub(crate) struct Views {
    env: Environment<'static>,
}

impl Views {
    /// Every template, parsed.
    ///
    /// # Panics
    /// When a template does not parse (they are part of the binary; a test
    /// renders each).
    #[allow(clippy::expect_used)]
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        // Records differ in which optional fields they have: a missing
        // field (or a field of one) renders empty instead of failing.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // Autoescaping follows the name: every template ends `.html`.
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the dashboard's templates parse");
        }
        Self { env }
    }

    /// `name` rendered with `ctx`.
    ///
    /// # Errors
    /// The template's error (a bug: missing values render empty).
    pub(crate) fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page renders with the values its handler gives it (an error
    /// here is a template bug the handlers would only log).
    #[test]
    fn every_page_renders_with_its_values() {
        let v = Views::new();
        let job = serde_json::json!({
            "_id": "j1", "kind": "instance_take_down", "status": "dead", "attempts": 3, "max_attempts": 3,
            "created": "2026-01-01 00:00:00 GMT", "payload": {"instance": "i1"}, "result": {"stdout": "x"},
        });
        let instance =
            serde_json::json!({"sid": "p1abc", "status": "installed", "type": "express", "_updated": "t"});
        let pages = [
            (
                "overview.html",
                minijinja::context! {
                    by_status => vec![minijinja::context! { status => "installed", total => 1 }],
                    by_type => vec![minijinja::context! { kind => "express", total => 1 }],
                    jobs => minijinja::context! { queued => 1, failed => 0, running => vec![job.clone()], running_total => 1, periodic => vec![job.clone()] },
                    hosts => vec![serde_json::json!({"name": "local", "roles": ["web"], "reachable": true, "healthy": true})],
                    checks => vec![serde_json::json!({"name": "store", "detail": "ok"})], readiness => "ready",
                },
            ),
            (
                "instances.html",
                minijinja::context! {
                    instances => vec![instance.clone()], total => 1, page => 1, pages => 2, status => "", kind => "", q => "", query => "q=",
                    statuses => ["installed"], types => ["express"],
                },
            ),
            (
                "instance.html",
                minijinja::context! {
                    sid => "p1abc", status => "installed", fields => vec![("sid", "p1abc")], routes => Vec::<()>::new(),
                    code_items => Vec::<()>::new(), backups => Vec::<()>::new(), jobs => vec![job.clone()],
                    drift => serde_json::json!({"web1": []}), actions => vec![("take_down", "Take down")],
                    user => "alice", csrf => "t",
                },
            ),
            (
                "jobs.html",
                minijinja::context! { running => vec![job.clone()], running_total => 1, queued => Vec::<()>::new(), queued_total => 0, dead => vec![job.clone()], dead_total => 1, csrf => "t", user => "alice" },
            ),
            (
                "commands.html",
                minijinja::context! { commands => vec![serde_json::json!({"_id": "c", "name": "n", "command": "ls", "single_server": true})], runs => vec![job.clone()] },
            ),
            (
                "command_run.html",
                minijinja::context! { run => job.clone(), outcomes => vec![job.clone()], live => true },
            ),
            (
                "code.html",
                minijinja::context! { groups => vec![serde_json::json!({"name": "drupal", "code_type": "core", "versions": [{"version": "1", "is_current": true, "used_by": 2}]})] },
            ),
            (
                "rollouts.html",
                minijinja::context! { rollouts => vec![serde_json::json!({"id": "r", "from": "a", "to": "b", "state": "paused", "done": 1, "failed": 0})], user => "alice", csrf => "t" },
            ),
            (
                "login.html",
                minijinja::context! { login_token => "t", next => "/ui/", problem => "wrong" },
            ),
        ];
        for (name, ctx) in pages {
            let all = minijinja::context! { prefix => "/ui", title => "T", ..ctx };
            if let Err(e) = v.render(name, all) {
                panic!("{name}: {e:#}");
            }
        }
    }

    #[test]
    fn values_are_html_escaped() {
        let v = Views::new();
        let html = v
            .render(
                "error.html",
                minijinja::context! { prefix => "/ui", title => "x", message => "<script>alert(1)</script>" },
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
    }
}
