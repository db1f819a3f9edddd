"""The portal: the front door for leaders, employees, psychologists and team leads.

Every action is one event on `referrals` or `sessions`; every page is read from the portal's
view of the topics (`domain/views.py`), which each instance rebuilds from the beginning.

Adding a page (for example a reports or a settings page):

1. Write a router module in `pages/`, e.g. `pages/reports.py`, with `router = APIRouter()`.
   A handler starts with `me = require(request, "team_lead")` (roles in `config.Role`) and
   ends with `return render(request, "reports.html", {...})` (both from `web.py`).
2. Write `templates/reports.html`: `{% extends "base.html" %}`, a `{% block title %}` and a
   `{% block content %}` with one `<h1>`. Every form posts (`method="post"`) and starts with
   `{{ csrf_field() }}`; a GET never changes anything.
3. Put every word in `i18n.TEXTS` with its Danish and English text; templates say
   `{{ t("reports.title") }}`. A unit test fails on a key that is missing.
4. Include the router in `app.create_app` and, for a link in the header, append
   `NavItem("/reports", "nav.reports", "team_lead")` to `portal.nav` there.
5. Open the page in the browser test (`tests/browser`) with `check_page(page, "reports")`, in
   Danish and in English: axe-core must find no serious or critical violation.

A POST that publishes calls `await portal.publish_and_wait(request, topic, event)`: it
publishes once per form (the form's `form_key` becomes the event id) and waits until the view
has read the event, so the page shown next includes it.
"""
