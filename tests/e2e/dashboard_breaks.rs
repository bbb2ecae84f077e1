//! Issue 22: what the real Tiledesk dashboard (and Appmixer's documented API) needs that Gatehouse
//! broke. Each test quotes the tiledesk-server v2.19.16 source (or Appmixer's docs) it follows.

use crate::helpers::*;
use crate::tiledesk::{agent, new_project, project_of, PASSWORD};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};

const OWNER: &str = "owner@example.com";

#[allow(dead_code)]
async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>, auth: &str) -> Resp {
    let mut rb = app.request(method, DEMO, path).header(AUTHORIZATION, auth);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    app.send(rb).await
}

// ---- 1: the project as the dashboard reads it ----

/// routes/project.js line 905-978 (`GET /`): `Project_user.find(...).populate({path:
/// 'id_project'})` then `res.json(project_users)`, so `id_project` is the whole project as
/// models/project.js's `toJSON: { virtuals: true }` (line 142) shows it: `profile` defaults to
/// `new Profile()` (line 85-89; models/profile.js lines 9-31: name 'Sandbox', trialDays 14,
/// agents 0, type 'free'), `channels` `[{name:'chat21'}]` (line 104-108), `versions` 20115, the
/// virtuals `trialExpired` (line 146-151: false without TRIAL_MODE_ENABLED), `trialDaysLeft`
/// (line 168-184) and `isActiveSubscription` (line 188-225: false unless `type === 'payment'`).
/// The dashboard's projects.component.ts reads `project.id_project.profile.type` unguarded.
/// project.js line 46-50 (`POST /`): `res.json(savedProject)`, the same document.
async fn get_projects_carries_the_whole_project_with_its_profile(app: TestApp) {
    let (token, _) = agent(&app, DEMO, OWNER).await;
    let first = project_of(&app, "demo", OWNER).await;
    let r = new_project(&app, "/v1", "Made by API", &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let made = r.json();
    assert_eq!(made["profile"]["type"], "free", "{made}");
    assert_eq!(made["id"], made["_id"]);
    let r = app.get(DEMO, "/v1/projects", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id_project"]["_id"], made["_id"]);
    assert_eq!(items[1]["id_project"]["_id"], json!(first.id));
    for item in items {
        let p = &item["id_project"];
        assert_eq!(
            p["profile"],
            json!({"name": "Sandbox", "trialDays": 14, "agents": 0, "type": "free"})
        );
        assert_eq!(
            (&p["trialExpired"], &p["isActiveSubscription"]),
            (&json!(false), &json!(false))
        );
        // A project made now has 14 days of trial left: floor((now - (created + 14 d)) / 1 d).
        assert_eq!(p["trialDaysLeft"], json!(-14));
        assert_eq!(p["status"], 100);
        assert_eq!(p["channels"], json!([{"name": "chat21"}]));
        assert_eq!(p["settings"], json!({}));
        assert_eq!(p["id"], p["_id"]);
        for secret in ["jwtSecret", "publicKey", "privateKey"] {
            assert!(p.get(secret).is_none(), "{secret} is select: false");
        }
    }
}

on_both!(get_projects_carries_the_whole_project_with_its_profile,);
