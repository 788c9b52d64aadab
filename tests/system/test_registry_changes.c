/*  System test of lgwan-registry changes: notifications and applications
    (R4.2), cancellations on their date on the business clock, the history
    of every version, who may read and file what, and bad input (X.3). The
    real binary, driven black-box; see registry_fixture.h.
*/
#include "registry_fixture.h"

//  ---------------------------------------------------------------------------
//  Helpers

#define NOTIFICATION LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION
#define APPLICATION  LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION
#define APPROVED     LGWAN__V1__OUTCOME__OUTCOME_APPROVED
#define REJECTED     LGWAN__V1__OUTCOME__OUTCOME_REJECTED

//  File a change of a provider (patch) as who, with an envelope reason
static lg_reply_t *
s_provider_change (const char *who, const char *reason, Lgwan__V1__ChangeKind kind, uint64_t id,
                   Lgwan__V1__ProviderPatch *patch)
{
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = kind;
    change.subject = (char *) "provider";
    change.id = id;
    change.provider = patch;
    return rf_ask_why (who, reason, RF_BODY (CHANGE_FILE), &change);
}

static lg_reply_t *
s_rename (const char *who, Lgwan__V1__ChangeKind kind, uint64_t id, const char *name)
{
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.name_ja = (char *) name;
    return s_provider_change (who, "商号変更", kind, id, &patch);
}

//  File a change of a service (patch) as who
static lg_reply_t *
s_service_change (const char *who, Lgwan__V1__ChangeKind kind, uint64_t id,
                  Lgwan__V1__ServicePatch *patch)
{
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = kind;
    change.subject = (char *) "service";
    change.id = id;
    change.service = patch;
    return rf_ask_why (who, "体制変更", RF_BODY (CHANGE_FILE), &change);
}

//  A contacts notification: liaison and emergency response, named name
static lg_reply_t *
s_new_contacts (const char *who, const char *reason, uint64_t id, const char *name)
{
    Lgwan__V1__Contact liaison = LGWAN__V1__CONTACT__INIT;
    liaison.kind = LGWAN__V1__CONTACT_KIND__CONTACT_LIAISON;
    liaison.name = (char *) name;
    liaison.phone = (char *) "03-1234-5678";
    liaison.email = (char *) "liaison@example.jp";
    Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT;
    emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    emergency.name = (char *) "緊急対応窓口";
    emergency.phone = (char *) "0120-000-000";
    Lgwan__V1__Contact *contacts [] = { &liaison, &emergency };
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.contacts = contacts;
    patch.n_contacts = 2;
    patch.replace_contacts = true;
    return s_provider_change (who, reason, NOTIFICATION, id, &patch);
}

//  A cancellation of subject/id, effective_on "" for today
static lg_reply_t *
s_cancel (const char *who, Lgwan__V1__ChangeKind kind, const char *subject, uint64_t id,
          const char *effective_on)
{
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = kind;
    change.subject = (char *) subject;
    change.id = id;
    change.cancel = true;
    change.effective_on = (char *) effective_on;
    return rf_ask_why (who, "契約終了", RF_BODY (CHANGE_FILE), &change);
}

//  Decide a change as who; the envelope carries the same reason
static lg_reply_t *
s_decide (const char *who, uint64_t change, Lgwan__V1__Outcome outcome, const char *reason)
{
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = outcome;
    decide.reason = (char *) reason;
    return rf_ask_why (who, reason, RF_BODY (CHANGE_DECIDE), &decide);
}

static lg_reply_t *
s_history (const char *who, const char *subject, uint64_t id)
{
    Lgwan__V1__History history = LGWAN__V1__HISTORY__INIT;
    history.subject = (char *) subject;
    history.id = id;
    return rf_ask (who, RF_BODY (HISTORY), &history);
}

//  The change id of a reply, which must be OK with this status
static uint64_t
s_change_id (lg_reply_t *reply, const char *status)
{
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, status);
    uint64_t id = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  Provider name and version as the registry answers them; name caller frees
static char *
s_provider_name (uint64_t id, uint64_t *version)
{
    lg_reply_t *reply = rf_provider_get ("viewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    char *name = strdup (reply->provider->provider->name_ja);
    if (version)
        *version = reply->provider->provider->version;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return name;
}

static char *
s_status_of (const char *table, uint64_t id)
{
    char sql [128];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.%s WHERE id = %" PRIu64, table, id);
    return rf_sql_text (sql);
}

static void
s_assert_status (const char *table, uint64_t id, const char *status)
{
    char *actual = s_status_of (table, id);
    assert_non_null (actual);
    assert_string_equal (actual, status);
    free (actual);
}

//  For lg_test_wait_for: change *arg is effective
static bool
s_change_effective (void *arg)
{
    char *status = s_status_of ("changes", *(uint64_t *) arg);
    bool effective = status && streq (status, "effective");
    free (status);
    return effective;
}

//  A text of count copies of unit
static char *
s_repeat (const char *unit, size_t count)
{
    size_t size = strlen (unit);
    char *text = (char *) malloc (size * count + 1);
    for (size_t i = 0; i < count; i++)
        memcpy (text + i * size, unit, size);
    text [size * count] = 0;
    return text;
}

//  ---------------------------------------------------------------------------
//  Tests

/* REQ R4.2: a contacts change is a notification: effective when filed, a new
   version with actor and reason, and ProviderChanged */
static void
test_r4_2_contacts_notification (void **state)
{
    (void) state;
    uint64_t version;
    free (s_provider_name (1, &version));
    long changed = rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED);

    lg_reply_t *reply = s_new_contacts ("provider1", "担当者の異動", 1, "佐藤花子");
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Change *c = reply->change->change;
    assert_int_equal (c->kind, NOTIFICATION);
    assert_string_equal (c->status, "effective");
    assert_string_equal (c->subject, "provider");
    assert_int_equal (c->subject_id, 1);
    assert_string_equal (c->filed_by, "provider:1");
    assert_string_equal (c->filed_at, RF_NOW_TEXT);
    assert_string_equal (c->reason, "担当者の異動");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    reply = rf_provider_get ("provider1", 1);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Provider *p = reply->provider->provider;
    assert_int_equal (p->version, version + 1);
    assert_int_equal (p->n_contacts, 2);
    assert_int_equal (p->contacts [0]->kind, LGWAN__V1__CONTACT_KIND__CONTACT_LIAISON);
    assert_string_equal (p->contacts [0]->name, "佐藤花子");
    assert_string_equal (p->contacts [0]->email, "liaison@example.jp");
    assert_int_equal (p->contacts [1]->kind, LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE);
    assert_string_equal (p->contacts [1]->phone, "0120-000-000");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED), changed + 1);

    reply = s_history ("provider1", "provider", 1);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, version + 1);
    const Lgwan__V1__Version *last = h->versions [h->n_versions - 1];
    assert_int_equal (last->version, version + 1);
    assert_string_equal (last->actor, "provider:1");
    assert_string_equal (last->reason, "担当者の異動");
    assert_string_equal (last->recorded_at, RF_NOW_TEXT);
    assert_non_null (strstr (last->record, "佐藤花子"));
    assert_null (strstr (h->versions [h->n_versions - 2]->record, "佐藤花子"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a name change needs an application: nothing changes until a
   reviewer approves it; rejected, nothing changes at all */
/* REQ R4.3 */
static void
test_r4_2_name_change_application (void **state)
{
    (void) state;
    uint64_t id = rf_qualified_provider ("旧商号株式会社");
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long changed = rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED);

    rf_refused (s_rename ("operator", NOTIFICATION, id, "新商号株式会社"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    //  ... also hidden in a contacts notification
    Lgwan__V1__Contact liaison = LGWAN__V1__CONTACT__INIT;
    liaison.kind = LGWAN__V1__CONTACT_KIND__CONTACT_LIAISON;
    liaison.name = (char *) "田中一郎";
    Lgwan__V1__Contact *contacts [] = { &liaison };
    Lgwan__V1__ProviderPatch both = LGWAN__V1__PROVIDER_PATCH__INIT;
    both.name_en = (char *) "New Name Co., Ltd.";
    both.contacts = contacts;
    both.n_contacts = 1;
    both.replace_contacts = true;
    rf_refused (s_provider_change ("operator", "連絡先と英文名", NOTIFICATION, id, &both),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);

    uint64_t change = s_change_id (s_rename ("operator", APPLICATION, id, "新商号株式会社"),
                                   "pending");
    uint64_t version;
    char *name = s_provider_name (id, &version);
    assert_string_equal (name, "旧商号株式会社");
    free (name);
    assert_int_equal (version, 3);      //  applied, under review, qualified
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED), changed);

    //  Only a reviewer decides, with an outcome
    rf_refused (s_decide ("operator", change, APPROVED, "承認"), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_decide ("reviewer", change, LGWAN__V1__OUTCOME__OUTCOME_UNSPECIFIED, "承認"),
                RF_CODE (INVALID_ARGUMENT), "R4.3");
    s_assert_status ("changes", change, "pending");

    lg_reply_t *reply = s_decide ("reviewer", change, APPROVED, "登記事項証明書を確認");
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Change *c = reply->change->change;
    assert_string_equal (c->status, "effective");
    assert_non_null (c->decision);
    assert_int_equal (c->decision->outcome, APPROVED);
    assert_string_equal (c->decision->reviewer, "reviewer:rita");
    assert_string_equal (c->decision->decided_at, RF_NOW_TEXT);
    assert_string_equal (c->decision->reason, "登記事項証明書を確認");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    name = s_provider_name (id, &version);
    assert_string_equal (name, "新商号株式会社");
    free (name);
    assert_int_equal (version, 4);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED), changed + 1);
    rf_refused (s_decide ("reviewer", change, REJECTED, "取消"), RF_CODE (FAILED_PRECONDITION),
                "R4.3");

    //  Rejected: the record stays as it is
    change = s_change_id (s_rename ("operator", APPLICATION, id, "却下商号株式会社"), "pending");
    reply = s_decide ("reviewer", change, REJECTED, "証明書なし");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "rejected");
    assert_int_equal (reply->change->change->decision->outcome, REJECTED);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    name = s_provider_name (id, &version);
    assert_string_equal (name, "新商号株式会社");
    free (name);
    assert_int_equal (version, 4);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED), changed + 1);

    //  History: every version in order, with who, when and why
    reply = s_history ("viewer", "provider", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, 4);
    const char *actors [] = { "operator:alice", "reviewer:rita", "reviewer:rita", "reviewer:rita" };
    const char *reasons [] = { "system test", "system test", "system test",
                               "登記事項証明書を確認" };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (h->versions [i]->version, i + 1);
        assert_string_equal (h->versions [i]->actor, actors [i]);
        assert_string_equal (h->versions [i]->reason, reasons [i]);
        assert_string_equal (h->versions [i]->recorded_at, RF_NOW_TEXT);
    }
    assert_non_null (strstr (h->versions [2]->record, "旧商号株式会社"));
    assert_non_null (strstr (h->versions [3]->record, "新商号株式会社"));
    assert_null (strstr (h->versions [3]->record, "却下商号株式会社"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a contract cancellation notification for today takes effect at
   once, with exactly one CancellationEffective; a qualification is
   cancelled by an application; no cancellation takes effect in the past */
static void
test_r4_2_cancel_today (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_active_contract ("provider1", 1, "131016", service);
    long cancellations = rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
    long changes = rf_count ("changes");

    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-02-28"),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-02-30"),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    s_assert_status ("contracts", contract, "active");

    lg_reply_t *reply = s_cancel ("provider1", NOTIFICATION, "contract", contract, "");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    assert_string_equal (reply->change->change->effective_on, RF_TODAY);
    assert_true (reply->change->change->cancel);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status ("contracts", contract, "cancelled");
    char effective [11] = "";
    uint64_t owner = 0;
    assert_int_equal (rf_cancellations ("contract", contract, effective, &owner), 1);
    assert_string_equal (effective, RF_TODAY);
    assert_int_equal (owner, 1);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE), cancellations + 1);
    //  Cancelled once: not again
    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 1);

    //  A qualification: an application, effective when approved
    uint64_t provider = rf_qualified_provider ("撤退株式会社");
    rf_refused (s_cancel ("operator", NOTIFICATION, "provider", provider, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", provider, ""),
                                   "pending");
    s_assert_status ("providers", provider, "qualified");
    assert_int_equal (rf_cancellations ("provider", provider, NULL, NULL), 0);
    rf_ok (s_decide ("reviewer", change, APPROVED, "事業撤退届を確認"));
    s_assert_status ("changes", change, "effective");
    s_assert_status ("providers", provider, "cancelled");
    assert_int_equal (rf_cancellations ("provider", provider, effective, &owner), 1);
    assert_string_equal (effective, RF_TODAY);
    assert_int_equal (owner, provider);
}

/* REQ R4.2: a cancellation application approved after the day it asked
   for takes effect the day it is approved, and the change records that day,
   as CancellationEffective says. Before, the change kept the day asked for,
   a day on which the provider was still qualified */
static void
test_r4_2_late_approval_records_the_day_it_took_effect (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("遅延承認株式会社");
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", provider,
                                             "2027-03-05"), "pending");
    rf_set_clock ("2027-03-10T00:00:00Z");          //  09:00 on 03-10 in Tokyo
    lg_reply_t *reply = s_decide ("reviewer", change, APPROVED, "事業撤退届を確認");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    assert_string_equal (reply->change->change->effective_on, "2027-03-10");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char effective [11] = "";
    assert_int_equal (rf_cancellations ("provider", provider, effective, NULL), 1);
    assert_string_equal (effective, "2027-03-10");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.changes WHERE id = %" PRIu64
                                    " AND effective_on = '2027-03-10'", change), 1);
}

/* REQ X.1: a cancellation that takes effect on its date, by the registry's
   duty, keeps who filed it and why: the version and CancellationEffective
   carry the actor system:registry and the reason "change <id> filed by
   <filer>: <reason>". Before, the reason was empty: the filer and the
   reason stored with the change were lost from the history */
/* REQ R4.2 */
static void
test_x1_due_cancellation_keeps_who_filed_it_and_why (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("期日廃止株式会社");
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", provider,
                                             "2027-03-05"), "pending");
    rf_ok (s_decide ("reviewer", change, APPROVED, "廃止を承認"));
    s_assert_status ("changes", change, "scheduled");
    rf_set_clock ("2027-03-05T00:00:00Z");
    assert_true (lg_test_wait_for (s_change_effective, &change, 5000));
    s_assert_status ("providers", provider, "cancelled");

    char *why = zsys_sprintf ("change %" PRIu64 " filed by operator:alice: 契約終了", change);
    lg_reply_t *reply = s_history ("viewer", "provider", provider);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    const Lgwan__V1__Version *last = h->versions [h->n_versions - 1];
    assert_string_equal (last->actor, "system:registry");
    assert_string_equal (last->reason, why);
    assert_non_null (strstr (last->record, "\"cancelled\""));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_event_t *event;
    assert_int_equal (rf_cancellation_events ("provider", provider, &event), 1);
    assert_string_equal (event->actor, "system:registry");
    assert_string_equal (event->reason, why);
    lgwan__v1__event__free_unpacked (event, NULL);
    zstr_free (&why);
}

/* REQ R4.2: "today" and "the past" are days in Asia/Tokyo: at 00:00 JST on
   2 March it is still 1 March in UTC */
static void
test_r4_2_cancel_tokyo_day (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_active_contract ("provider1", 1, "131041", service);
    rf_set_clock ("2027-03-01T15:00:00Z");
    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-03-01"),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    lg_reply_t *reply = s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-03-02");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    assert_string_equal (reply->change->change->effective_on, "2027-03-02");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status ("contracts", contract, "cancelled");
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 1);
}

/* REQ R4.2: a service's title is a notification, its holders an
   application checked with the Art.9 rules when filed (R9.2, R13.1).
   ServiceRegistered is published again when the holders change, not for a
   title alone (followers learn the holders; a title-only change published
   it again, the holders unchanged) */
static void
test_r4_2_service_changes (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t telecom = rf_qualified_provider ("回線株式会社");
    long registered = rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED);

    //  The title: by the hosting provider, at once; not by another holder
    Lgwan__V1__ServicePatch title = LGWAN__V1__SERVICE_PATCH__INIT;
    title.title_ja = (char *) "電子申請サービス（新）";
    rf_refused (s_service_change ("provider1", NOTIFICATION, service, &title),
                RF_CODE (PERMISSION_DENIED), "X.3");
    s_change_id (s_service_change ("provider2", NOTIFICATION, service, &title), "effective");
    Lgwan__V1__ServiceGet get = LGWAN__V1__SERVICE_GET__INIT;
    get.service = service;
    lg_reply_t *reply = rf_ask ("viewer", RF_BODY (SERVICE_GET), &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->service->service->title_ja, "電子申請サービス（新）");
    assert_string_equal (reply->service->service->status, "registered");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED), registered);

    //  The holders
    Lgwan__V1__RoleHolder holder [3] = { LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT };
    holder [0].provider = 1;
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].provider = 2;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    holder [2].provider = telecom;
    holder [2].role = LGWAN__V1__SERVICE_ROLE__ROLE_TELECOM;
    holder [2].carrier_number = (char *) "";
    Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1], &holder [2] };
    Lgwan__V1__ServicePatch patch = LGWAN__V1__SERVICE_PATCH__INIT;
    patch.holders = holders;
    patch.n_holders = 3;
    patch.replace_holders = true;
    long changes = rf_count ("changes");
    rf_refused (s_service_change ("operator", NOTIFICATION, service, &patch),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_service_change ("operator", APPLICATION, service, &patch),
                RF_CODE (FAILED_PRECONDITION), "R13.1");
    holder [2].carrier_number = (char *) "E-01-00042";
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    rf_refused (s_service_change ("operator", APPLICATION, service, &patch),
                RF_CODE (FAILED_PRECONDITION), "R10.1");
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_FACILITY;
    rf_refused (s_service_change ("operator", APPLICATION, service, &patch),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    assert_int_equal (rf_count ("changes"), changes);

    uint64_t change = s_change_id (s_service_change ("operator", APPLICATION, service, &patch),
                                   "pending");
    reply = rf_ask ("viewer", RF_BODY (SERVICE_GET), &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->service->service->n_holders, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_decide ("reviewer", change, APPROVED, "回線事業者の追加を承認"));
    reply = rf_ask ("viewer", RF_BODY (SERVICE_GET), &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Service *s = reply->service->service;
    assert_int_equal (s->n_holders, 3);
    assert_int_equal (s->holders [2]->provider, telecom);
    assert_int_equal (s->holders [2]->role, LGWAN__V1__SERVICE_ROLE__ROLE_TELECOM);
    assert_string_equal (s->holders [2]->carrier_number, "E-01-00042");
    assert_string_equal (s->title_ja, "電子申請サービス（新）");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED), registered + 1);
}

//  The operator applies for a connection of service; its id
static uint64_t
s_connection_applied (uint64_t service)
{
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) "rt-tokyo-01";
    apply.line_carrier = (char *) "NTT東日本";
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = 28;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CONNECTION_APPLY), &apply);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->connection->connection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  A reviewer takes connection id under review and rejects it
static void
s_connection_rejected (uint64_t id)
{
    Lgwan__V1__ConnectionReview review = LGWAN__V1__CONNECTION_REVIEW__INIT;
    review.connection = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_REVIEW), &review));
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = id;
    decide.outcome = REJECTED;
    decide.reason = (char *) "回線の要件を満たさない";
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_DECIDE), &decide));
}

/* REQ R9.2: the hosting role of a service moves to another provider only
   when the service has no connection of the one before still in effect
   (applied, under review or active): a connection is the hosting
   provider's own line, so the one before cancels it and the new one
   applies for its own (one still applied for is decided: rejected here).
   Checked when the change is filed and again when it is decided. Before, the move was taken and the provider no longer
   hosting kept acting on the service's connections, while the new one was
   refused them */
static void
test_r9_2_hosting_moves_only_without_its_connections (void **state)
{
    (void) state;
    uint64_t host = rf_qualified_provider ("移管元株式会社");
    rf_contacts (host);
    uint64_t service = rf_registered_service (1, host);
    uint64_t first = s_connection_applied (service);
    rf_holders_t h;
    Lgwan__V1__ServicePatch *patch = rf_holders_patch (&h, 1, 2);
    long changes = rf_count ("changes");
    rf_refused (s_service_change ("operator", APPLICATION, service, patch),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    assert_int_equal (rf_count ("changes"), changes);

    //  Its connection rejected: filed; another applied for before the
    //  decision: the decision is refused, and taken once that one goes too
    s_connection_rejected (first);
    uint64_t change = s_change_id (s_service_change ("operator", APPLICATION, service, patch),
                                   "pending");
    uint64_t second = s_connection_applied (service);
    rf_refused (s_decide ("reviewer", change, APPROVED, "移管を承認"),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    assert_int_equal (rf_sqlf_long ("SELECT provider_id FROM registry.service_holders"
                                    " WHERE service_id = %" PRIu64 " AND role = %d", service,
                                    (int) LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING), (long) host);
    s_connection_rejected (second);
    rf_ok (s_decide ("reviewer", change, APPROVED, "移管を承認"));
    assert_int_equal (rf_sqlf_long ("SELECT provider_id FROM registry.service_holders"
                                    " WHERE service_id = %" PRIu64 " AND role = %d", service,
                                    (int) LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING), 2);
}

/* REQ R4.2: a cancellation ends what is in effect. A provider under
   review, a service or a connection applied for or under review, a draft
   contract never began: its cancellation is refused, for today or a later
   date (a draft contract's for a later date: for today it is withdrawn,
   test_r4_2_draft_contract_is_withdrawn), and nothing is written. Before, it was taken: at once, and on its
   date if later even when the application was rejected meanwhile, and
   CancellationEffective announced the end of what never began */
static void
test_r4_2_what_never_took_effect_is_not_cancelled (void **state)
{
    (void) state;
    rf_contacts (2);
    uint64_t provider = rf_applied_provider ("審査中株式会社");
    Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    review.provider = provider;
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_REVIEW), &review));
    uint64_t applied = rf_applied_service (1, 2);
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_contract ("provider1", 1, "131016", service);
    uint64_t connection = s_connection_applied (service);
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long events = rf_count ("outbox");

    lg_reply_t *reply = s_cancel ("operator", APPLICATION, "provider", provider, "");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_non_null (strstr (reply->status->message, "not in effect"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_cancel ("operator", NOTIFICATION, "service", applied, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_cancel ("operator", NOTIFICATION, "service", applied, "2027-03-10"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    //  (A draft contract is withdrawn at once, never on a later date:
    //  test_r4_2_draft_contract_is_withdrawn)
    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-03-10"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_cancel ("operator", NOTIFICATION, "connection", connection, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_cancel ("operator", NOTIFICATION, "connection", connection, "2027-03-10"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
    s_assert_status ("providers", provider, "under_review");
    s_assert_status ("services", applied, "applied");
    s_assert_status ("contracts", contract, "draft");
    s_assert_status ("connections", connection, "applied");
}

//  For lg_test_wait_for: change *arg lapsed
static bool
s_change_lapsed (void *arg)
{
    char *status = s_status_of ("changes", *(uint64_t *) arg);
    bool lapsed = status && streq (status, "lapsed");
    free (status);
    return lapsed;
}

/* REQ R4.2: a cancellation that waited while its record never took effect
   lapses, with nothing written and nothing published: approved after the
   qualification it would end was rejected, or due on a date after the
   connection it would end was rejected. Such a cancellation is refused now
   (above); one filed before may still wait, and is put in the table as it
   would be. Before, the approval and the duty cancelled the rejected
   record, wrote its version and published CancellationEffective */
static void
test_r4_2_cancellation_of_what_never_took_effect_lapses (void **state)
{
    (void) state;
    uint64_t provider = rf_applied_provider ("却下予定株式会社");
    Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    review.provider = provider;
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_REVIEW), &review));
    uint64_t pending = rf_change_filed_before ("application", "provider", provider, true,
                                               "pending", RF_TODAY);
    Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    decide.provider = provider;
    decide.outcome = REJECTED;
    decide.reason = (char *) "要件を満たさない";
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_DECIDE), &decide));
    rf_contacts (2);
    uint64_t connection = s_connection_applied (rf_registered_service (1, 2));
    uint64_t scheduled = rf_change_filed_before ("notification", "connection", connection, true,
                                                 "scheduled", "2027-03-05");
    s_connection_rejected (connection);
#define OF_BOTH "SELECT count(*) FROM registry.versions WHERE (subject = 'provider'" \
                " AND subject_id = %" PRIu64 ") OR (subject = 'connection'" \
                " AND subject_id = %" PRIu64 ")", provider, connection
    long versions = rf_sqlf_long (OF_BOTH);
    long events = rf_count ("outbox");

    lg_reply_t *reply = s_decide ("reviewer", pending, APPROVED, "廃止を承認");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "lapsed");
    assert_int_equal (reply->change->change->decision->outcome, APPROVED);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status ("providers", provider, "rejected");

    rf_set_clock ("2027-03-05T00:00:00Z");
    if (!lg_test_wait_for (s_change_lapsed, &scheduled, 5000))
        fail_msg ("cancellation %" PRIu64 " is %s, not lapsed", scheduled,
                  s_status_of ("changes", scheduled));
    s_assert_status ("connections", connection, "rejected");
    assert_int_equal (rf_sqlf_long (OF_BOTH), versions);
#undef OF_BOTH
    assert_int_equal (rf_count ("outbox"), events);
    assert_int_equal (rf_cancellations ("provider", provider, NULL, NULL), 0);
    assert_int_equal (rf_cancellations ("connection", connection, NULL, NULL), 0);
}

/* REQ R4.2: history can be read back by the provider itself: of its own
   connection, a service it hosts, an interconnection it is a side of, a
   contract of its own, and the changes of each; never by another provider
   (not the service's other holder). Before, a provider was refused all but
   its provider record and its contracts, against the README's "readers,
   the provider itself" */
/* REQ X.3 */
static void
test_r4_2_provider_reads_the_history_of_its_own_records (void **state)
{
    (void) state;
    rf_contacts (2);
    uint64_t service = rf_registered_service (1, 2);
    uint64_t connection = s_connection_applied (service);
    uint64_t contract = rf_contract ("provider2", 2, "131016", service);
    uint64_t third = rf_qualified_provider ("相互接続株式会社");
    Lgwan__V1__InterconnectionRegister ic = LGWAN__V1__INTERCONNECTION_REGISTER__INIT;
    ic.provider_a = third;
    ic.provider_b = 2;
    ic.justification = (char *) "共同利用型サービスの提供のため";
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (INTERCONNECTION_REGISTER), &ic);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t interconnection = reply->interconnection->interconnection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ServicePatch title = LGWAN__V1__SERVICE_PATCH__INIT;
    title.title_ja = (char *) "電子申請サービス（履歴）";
    s_change_id (s_service_change ("provider2", NOTIFICATION, service, &title), "effective");
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");

    struct { const char *subject; uint64_t id; } own [] = {
        { "service", service }, { "connection", connection }, { "contract", contract },
        { "interconnection", interconnection }, { "provider", 2 } };
    for (size_t i = 0; i < sizeof own / sizeof own [0]; i++) {
        reply = s_history ("provider2", own [i].subject, own [i].id);
        rf_expect (reply, RF_CODE (OK), NULL);
        assert_true (reply->history->n_versions >= 1);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        //  Another provider, even one that holds a role in the service: no
        //  (X.3: told as of a record that does not exist, but the service
        //  it holds a role in, which it reads, and is denied)
        bool holder = streq (own [i].subject, "service");
        rf_refused (s_history ("provider1", own [i].subject, own [i].id),
                    holder? RF_CODE (PERMISSION_DENIED): RF_CODE (NOT_FOUND), holder? "X.3": "");
    }
    Lgwan__V1__ChangeList list = LGWAN__V1__CHANGE_LIST__INIT;
    list.subject = (char *) "service";
    list.id = service;
    reply = rf_ask ("provider2", RF_BODY (CHANGE_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->change_list->n_changes, 1);
    assert_string_equal (reply->change_list->changes [0]->payload,
                         "{\"titleJa\":\"電子申請サービス（履歴）\"}");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (rf_ask ("provider1", RF_BODY (CHANGE_LIST), &list), RF_CODE (PERMISSION_DENIED),
                "X.3");
    list.subject = (char *) "";
    list.id = 0;
    rf_refused (rf_ask ("provider2", RF_BODY (CHANGE_LIST), &list), RF_CODE (PERMISSION_DENIED),
                "X.3");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
}

/* REQ X.3: History is a read: it takes no lock, so a contract's history is
   answered at once while a write holds the contract. Before, it read the
   contract's owner FOR UPDATE, waited the reactor's lock wait and was
   answered busy */
static void
test_x3_history_read_takes_no_lock (void **state)
{
    (void) state;
    uint64_t contract = rf_contract ("provider1", 1, "131016", rf_registered_service (1, 2));
    PGconn *holder = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM registry.contracts WHERE id = %" PRIu64
                              " FOR UPDATE", contract);
    PGresult *res = PQexec (holder, sql);
    bool held = PQresultStatus (res) == PGRES_TUPLES_OK;
    PQclear (res);
    zstr_free (&sql);
    int64_t started = zclock_mono ();
    lg_reply_t *reply = s_history ("provider1", "contract", contract);
    int64_t took = zclock_mono () - started;
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    assert_true (held);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->history->n_versions, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_true (took < LG_DB_LOCK_WAIT_MS / 2);
}

//  File change as operator while another transaction holds the row of
//  table id; the reply and how long it took (ms)
static lg_reply_t *
s_change_while_held (const char *table, uint64_t id, Lgwan__V1__ChangeFile *change,
                     int64_t *took)
{
    PGconn *holder = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM registry.%s WHERE id = %" PRIu64
                              " FOR UPDATE", table, id);
    PGresult *res = PQexec (holder, sql);
    bool held = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
    PQclear (res);
    zstr_free (&sql);
    int64_t started = zclock_mono ();
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), change);
    *took = zclock_mono () - started;
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    assert_true (held);
    return reply;
}

/* REQ X.3: the lists of a change's patch (a provider's contacts and data
   centres, a service's holders) hold at most 256 entries, refused
   INVALID_ARGUMENT before anything is locked, like those of every other
   request. Before, ChangeFile locked the record first: an oversized patch
   waited for a write holding the record, and was answered busy */
static void
test_x3_change_lists_are_bounded_before_the_record_is_locked (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("連絡先の多い株式会社");
    uint64_t service = rf_registered_service (provider, provider);
    long changes = rf_count ("changes");
    enum { N = 257 };
    static Lgwan__V1__Contact contact [N];
    static Lgwan__V1__DataCentre centre [N];
    static Lgwan__V1__RoleHolder holder [N];
    Lgwan__V1__Contact *contacts [N];
    Lgwan__V1__DataCentre *centres [N];
    Lgwan__V1__RoleHolder *holders [N];
    for (size_t i = 0; i < N; i++) {
        lgwan__v1__contact__init (&contact [i]);
        contacts [i] = &contact [i];
        lgwan__v1__data_centre__init (&centre [i]);
        centres [i] = &centre [i];
        lgwan__v1__role_holder__init (&holder [i]);
        holders [i] = &holder [i];
    }
    Lgwan__V1__ProviderPatch contacts_patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    contacts_patch.contacts = contacts;
    contacts_patch.n_contacts = N;
    contacts_patch.replace_contacts = true;
    Lgwan__V1__ProviderPatch centres_patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    centres_patch.data_centres = centres;
    centres_patch.n_data_centres = N;
    centres_patch.replace_data_centres = true;
    Lgwan__V1__ServicePatch holders_patch = LGWAN__V1__SERVICE_PATCH__INIT;
    holders_patch.holders = holders;
    holders_patch.n_holders = N;
    holders_patch.replace_holders = true;
    struct {
        const char *table, *subject, *list;
        uint64_t id;
        Lgwan__V1__ProviderPatch *provider;
        Lgwan__V1__ServicePatch *service;
    } cases [] = {
        { "providers", "provider", "at most 256 contacts", provider, &contacts_patch, NULL },
        { "providers", "provider", "at most 256 data centres", provider, &centres_patch, NULL },
        { "services", "service", "at most 256 holders", service, NULL, &holders_patch },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
        change.kind = APPLICATION;
        change.subject = (char *) cases [i].subject;
        change.id = cases [i].id;
        change.provider = cases [i].provider;
        change.service = cases [i].service;
        int64_t took;
        lg_reply_t *reply = s_change_while_held (cases [i].table, cases [i].id, &change, &took);
        rf_expect (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
        assert_non_null (strstr (reply->status->message, cases [i].list));
        lgwan__v1__reply__free_unpacked (reply, NULL);
        assert_true (took < LG_DB_LOCK_WAIT_MS / 2);
    }
    assert_int_equal (rf_count ("changes"), changes);
}

/* REQ R4.2: a rejected application never took effect: a change or a
   cancellation of it is refused and writes nothing. A cancellation used to
   be taken, and CancellationEffective announced the end of a service that
   never began */
static void
test_r4_2_rejected_is_not_changed_or_cancelled (void **state)
{
    (void) state;
    uint64_t service = rf_applied_service (1, 1);
    Lgwan__V1__ServiceReview review = LGWAN__V1__SERVICE_REVIEW__INIT;
    review.service = service;
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_REVIEW), &review));
    Lgwan__V1__ServiceDecide decide = LGWAN__V1__SERVICE_DECIDE__INIT;
    decide.service = service;
    decide.outcome = REJECTED;
    decide.reason = (char *) "要件を満たさない";
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_DECIDE), &decide));
    long changes = rf_count ("changes");
    long cancellations = rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
    rf_refused (s_cancel ("operator", NOTIFICATION, "service", service, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    Lgwan__V1__ServicePatch patch = LGWAN__V1__SERVICE_PATCH__INIT;
    patch.title_ja = (char *) "新しい名称";
    rf_refused (s_service_change ("operator", NOTIFICATION, service, &patch),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE), cancellations);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.services WHERE id = %" PRIu64
                                    " AND status = 'rejected'", service), 1);
}

/* REQ R4.2: a change is filed as the kind the policy gives it: a
   notification (contacts, a service's title, a service's cancellation)
   filed as an application is refused and writes nothing. Before, it was
   taken and sat pending for a reviewer, though a notification takes effect
   when filed. A change with one field that needs an application is one */
static void
test_r4_2_notification_is_not_filed_as_application (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("届出種別株式会社");
    uint64_t service = rf_registered_service (1, 2);
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long events = rf_count ("outbox");

    Lgwan__V1__Contact liaison = LGWAN__V1__CONTACT__INIT;
    liaison.kind = LGWAN__V1__CONTACT_KIND__CONTACT_LIAISON;
    liaison.name = (char *) "田中一郎";
    Lgwan__V1__Contact *contacts [] = { &liaison };
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.contacts = contacts;
    patch.n_contacts = 1;
    patch.replace_contacts = true;
    lg_reply_t *reply = s_provider_change ("operator", "担当者の異動", APPLICATION, provider, &patch);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_non_null (strstr (reply->status->message, "change notification"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ServicePatch title = LGWAN__V1__SERVICE_PATCH__INIT;
    title.title_ja = (char *) "電子申請サービス（改）";
    rf_refused (s_service_change ("operator", APPLICATION, service, &title),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_cancel ("operator", APPLICATION, "service", service, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
    s_assert_status ("services", service, "registered");

    //  Contacts with a new name: the name needs an application, so both wait
    patch.name_ja = (char *) "届出種別ホールディングス株式会社";
    s_change_id (s_provider_change ("operator", "商号と担当者", APPLICATION, provider, &patch),
                 "pending");
}

/* REQ R4.2: a cancellation for a later date waits for that date in
   Asia/Tokyo on the business clock, is published once, and not again after
   a restart */
static void
test_r4_2_cancel_scheduled (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_active_contract ("operator", 1, "130001", service);

    lg_reply_t *reply = s_cancel ("operator", NOTIFICATION, "contract", contract, "2027-03-31");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "scheduled");
    assert_string_equal (reply->change->change->effective_on, "2027-03-31");
    uint64_t change = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status ("contracts", contract, "active");
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 0);

    //  23:59:59 on 30 March in Tokyo: several duty runs, nothing happens
    rf_set_clock ("2027-03-30T14:59:59Z");
    zclock_sleep (1000);
    s_assert_status ("changes", change, "scheduled");
    s_assert_status ("contracts", contract, "active");
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 0);

    //  Midnight in Tokyo: the day has come
    rf_set_clock ("2027-03-30T15:00:00Z");
    assert_true (lg_test_wait_for (s_change_effective, &change, 5000));
    s_assert_status ("contracts", contract, "cancelled");
    char effective [11] = "";
    uint64_t owner = 0;
    assert_int_equal (rf_cancellations ("contract", contract, effective, &owner), 1);
    assert_string_equal (effective, "2027-03-31");
    assert_int_equal (owner, 1);

    //  A restart publishes nothing twice
    rf_stop ();
    rf_start ();
    zclock_sleep (1000);
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 1);
    s_assert_status ("changes", change, "effective");

    reply = s_history ("viewer", "contract", contract);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, 5);    //  filed, two deliveries, active, cancelled
    assert_int_equal (h->versions [4]->version, 5);
    assert_string_equal (h->versions [4]->actor, "system:registry");
    assert_string_equal (h->versions [4]->recorded_at, "2027-03-30T15:00:00.000000Z");
    assert_non_null (strstr (h->versions [4]->record, "\"cancelled\""));
    assert_null (strstr (h->versions [3]->record, "\"cancelled\""));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a record ends once. A contract's cancellation for a later date
   waits; another for today cancels it at once; on the later date the first
   lapses: no second version, no second CancellationEffective, and
   ChangeList shows one cancellation effective. A third is refused when
   filed. Before, the duty set the first `effective` on its date: ChangeList
   said the contract was cancelled twice, on two dates */
static void
test_r4_2_second_cancellation_lapses (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_active_contract ("operator", 1, "131016", service);
    uint64_t later = s_change_id (s_cancel ("provider1", NOTIFICATION, "contract", contract,
                                            "2027-03-10"), "scheduled");
    uint64_t now = s_change_id (s_cancel ("provider1", NOTIFICATION, "contract", contract, ""),
                                "effective");
    s_assert_status ("contracts", contract, "cancelled");
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 1);
    rf_refused (s_cancel ("provider1", NOTIFICATION, "contract", contract, "2027-03-20"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    long versions = rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                  " 'contract' AND subject_id = %" PRIu64, contract);
    long events = rf_count ("outbox");

    rf_set_clock ("2027-03-10T00:00:00Z");
    if (!lg_test_wait_for (s_change_lapsed, &later, 5000))
        fail_msg ("cancellation %" PRIu64 " is %s, not lapsed", later,
                  s_status_of ("changes", later));
    s_assert_status ("changes", now, "effective");
    s_assert_status ("contracts", contract, "cancelled");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                    " 'contract' AND subject_id = %" PRIu64, contract), versions);
    assert_int_equal (rf_count ("outbox"), events);
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 1);
    //  What ChangeList says: one cancellation took effect
    Lgwan__V1__ChangeList list = LGWAN__V1__CHANGE_LIST__INIT;
    list.subject = (char *) "contract";
    list.id = contract;
    lg_reply_t *reply = rf_ask ("provider1", RF_BODY (CHANGE_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->change_list->n_changes, 2);
    assert_string_equal (reply->change_list->changes [0]->status, "lapsed");
    assert_string_equal (reply->change_list->changes [1]->status, "effective");
    assert_string_equal (reply->change_list->changes [1]->effective_on, RF_TODAY);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a provider files changes only for its own records, and another
   provider's filing is refused whatever kind it names, before the policy is
   asked, as for a provider that does not exist (NOT_FOUND, X.3). Before,
   provider2's name notification for provider 1 was refused
   FAILED_PRECONDITION R4.2 ("needs a change application"): the policy
   checks ran before the caller's; only the right kind was refused */
static void
test_r4_2_another_providers_filing_is_denied (void **state)
{
    (void) state;
    long changes = rf_count ("changes");
    const char *denied = "no provider 1";
    lg_reply_t *reply = s_rename ("provider2", NOTIFICATION, 1, "乗っ取り株式会社");
    rf_expect (reply, RF_CODE (NOT_FOUND), "");
    assert_string_equal (reply->status->message, denied);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_rename ("provider2", APPLICATION, 1, "乗っ取り株式会社");
    rf_expect (reply, RF_CODE (NOT_FOUND), "");
    assert_string_equal (reply->status->message, denied);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_cancel ("provider2", NOTIFICATION, "provider", 1, "");
    rf_expect (reply, RF_CODE (NOT_FOUND), "");
    assert_string_equal (reply->status->message, denied);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("changes"), changes);
    //  Its own, of the wrong kind: the policy answers
    rf_refused (s_rename ("provider2", NOTIFICATION, 2, "新商号"), RF_CODE (FAILED_PRECONDITION),
                "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
}

//  An interconnection registered by the operator; its id
static uint64_t
s_interconnected (uint64_t a, uint64_t b)
{
    Lgwan__V1__InterconnectionRegister ic = LGWAN__V1__INTERCONNECTION_REGISTER__INIT;
    ic.provider_a = a;
    ic.provider_b = b;
    ic.justification = (char *) "共同利用型サービスの相互提供のため";
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (INTERCONNECTION_REGISTER), &ic);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->interconnection->interconnection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  The last version of interconnection id: its number, reason, status
static void
s_interconnection_version (uint64_t id, uint64_t version, const char *reason)
{
    lg_reply_t *reply = s_history ("viewer", "interconnection", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, version);
    const Lgwan__V1__Version *last = h->versions [h->n_versions - 1];
    assert_int_equal (last->version, version);
    assert_non_null (strstr (last->reason, reason));
    assert_non_null (strstr (last->record, "\"status\": \"cancelled\""));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2 R8.1: an interconnection ends by a cancellation, a notification
   filed by either side (or staff), once: cancelled, a version,
   CancellationEffective, and the pair may register one again. Nothing else
   of it is changed, another provider is denied, and an application is the
   wrong kind. Before, ChangeFile refused the subject (INVALID_ARGUMENT
   R4.2): a mistaken interconnection could never be corrected */
static void
test_r4_2_interconnection_is_cancelled (void **state)
{
    (void) state;
    uint64_t other = rf_qualified_provider ("相互接続解消株式会社");
    uint64_t id = s_interconnected (other, 2);
    long changes = rf_count ("changes");
    rf_refused (s_cancel ("provider1", NOTIFICATION, "interconnection", id, ""),
                RF_CODE (NOT_FOUND), "");
    rf_refused (s_cancel ("provider2", APPLICATION, "interconnection", id, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.name_ja = (char *) "別名";
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = NOTIFICATION;
    change.subject = (char *) "interconnection";
    change.id = id;
    change.provider = &patch;
    rf_refused (rf_ask ("provider2", RF_BODY (CHANGE_FILE), &change),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);

    //  The second side files it: it takes effect today
    s_change_id (s_cancel ("provider2", NOTIFICATION, "interconnection", id, ""), "effective");
    s_assert_status ("interconnections", id, "cancelled");
    s_interconnection_version (id, 2, "契約終了");
    uint64_t owner = 0;
    char effective [11] = "";
    assert_int_equal (rf_cancellations ("interconnection", id, effective, &owner), 1);
    assert_string_equal (effective, RF_TODAY);
    assert_int_equal (owner, other);
    rf_refused (s_cancel ("operator", NOTIFICATION, "interconnection", id, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_cancellations ("interconnection", id, NULL, NULL), 1);
    //  The pair registers one again
    assert_true (s_interconnected (2, other) > id);
}

/* REQ R4.2 R8.1: a provider's cancellation ends the interconnections it is a
   side of, in its transaction: cancelled, a version whose reason names the
   provider's cancellation, without an event of their own; the other side's
   others stay. Before, they stayed registered with a cancelled side */
static void
test_r4_2_provider_cancellation_ends_its_interconnections (void **state)
{
    (void) state;
    uint64_t leaving = rf_qualified_provider ("撤退予定株式会社");
    uint64_t ended [2] = { s_interconnected (leaving, 1), s_interconnected (2, leaving) };
    uint64_t kept = s_interconnected (1, rf_qualified_provider ("存続株式会社"));
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", leaving, ""),
                                   "pending");
    rf_ok (s_decide ("reviewer", change, APPROVED, "撤退を承認"));
    s_assert_status ("providers", leaving, "cancelled");
    char *why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %"
                              PRIu64 ")", leaving, change);
    for (int i = 0; i < 2; i++) {
        s_assert_status ("interconnections", ended [i], "cancelled");
        s_interconnection_version (ended [i], 2, why);
        assert_int_equal (rf_cancellations ("interconnection", ended [i], NULL, NULL), 0);
    }
    zstr_free (&why);
    s_assert_status ("interconnections", kept, "registered");
    rf_refused (s_cancel ("provider1", NOTIFICATION, "interconnection", ended [0], ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
}

/* REQ R4.2: a draft contract is withdrawn by a cancellation filed while it
   is a draft, at once: status withdrawn, a version, the change effective,
   no CancellationEffective (it never took effect); it is not delivered to,
   activated or cancelled any more. A later date is refused. Before, its
   cancellation was refused (it is not active) and nothing else ended it:
   a draft lingered for ever and could be activated at any later date */
static void
test_r4_2_draft_contract_is_withdrawn (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (2, 2);
    uint64_t contract = rf_contract ("provider2", 2, "131032", service);
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, RF_TODAY));
    long changes = rf_count ("changes");
    rf_refused (s_cancel ("provider2", NOTIFICATION, "contract", contract, "2027-03-10"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    long events = rf_count ("outbox");

    s_change_id (s_cancel ("provider2", NOTIFICATION, "contract", contract, ""), "effective");
    s_assert_status ("contracts", contract, "withdrawn");
    assert_int_equal (rf_count ("outbox"), events);
    assert_int_equal (rf_cancellations ("contract", contract, NULL, NULL), 0);
    lg_reply_t *reply = s_history ("provider2", "contract", contract);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->history->n_versions, 3);       //  filed, delivery, withdrawn
    assert_non_null (strstr (reply->history->versions [2]->record, "\"status\": \"withdrawn\""));
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Nothing more of it
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, RF_TODAY),
                RF_CODE (FAILED_PRECONDITION), "R7.2");
    rf_refused (rf_activate ("provider2", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    rf_refused (s_cancel ("provider2", NOTIFICATION, "contract", contract, ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    s_assert_status ("contracts", contract, "withdrawn");
    assert_int_equal (rf_count ("outbox"), events);
    reply = rf_contracts_of ("provider2", 2, true);
    rf_expect (reply, RF_CODE (OK), NULL);
    for (size_t i = 0; i < reply->contracts->n_contracts; i++)
        assert_int_not_equal (reply->contracts->contracts [i]->id, contract);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a date that passed while no registry ran takes effect when one
   starts */
static void
test_r4_2_cancel_while_down (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t change = s_change_id (s_cancel ("operator", NOTIFICATION, "service", service,
                                             "2027-03-10"), "scheduled");
    rf_stop ();
    rf_set_clock ("2027-03-15T00:00:00Z");
    rf_start ();
    assert_true (lg_test_wait_for (s_change_effective, &change, 5000));
    s_assert_status ("services", service, "cancelled");
    char effective [11] = "";
    uint64_t owner = 0;
    assert_int_equal (rf_cancellations ("service", service, effective, &owner), 1);
    assert_string_equal (effective, "2027-03-10");
    assert_int_equal (owner, 2);       //  the hosting provider
}

//  X.3: what a provider is told of another's record (theirs, what id) and of
//  none (no such id): the same, NOT_FOUND "no <what> <id>" naming no rule
static void
s_told_as_missing (lg_reply_t *theirs, lg_reply_t *none, const char *what, uint64_t id,
                   uint64_t none_id)
{
    char *words = zsys_sprintf ("no %s %" PRIu64, what, id);
    char *none_words = zsys_sprintf ("no %s %" PRIu64, what, none_id);
    rf_expect (theirs, RF_CODE (NOT_FOUND), "");
    rf_expect (none, RF_CODE (NOT_FOUND), "");
    assert_string_equal (theirs->status->message, words);
    assert_string_equal (none->status->message, none_words);
    lgwan__v1__reply__free_unpacked (theirs, NULL);
    lgwan__v1__reply__free_unpacked (none, NULL);
    zstr_free (&words);
    zstr_free (&none_words);
}

/* REQ X.3: a provider reads only its own records, and learns nothing of
   another provider's, not even which exist: asking about a provider, a
   service, a contract or a connection not its own is answered as for one
   that does not exist (NOT_FOUND "no <what> <id>", the same status and
   words), while staff and a viewer still get the precise answer (the
   record, or NOT_FOUND). Before, an id that existed was PERMISSION_DENIED
   ("a provider files and reads only for itself", "only the hosting
   provider ...") and one that did not NOT_FOUND: a provider certificate
   could list which ids exist */
static void
test_x3_another_providers_record_is_told_as_missing (void **state)
{
    (void) state;
    const uint64_t none = 999999;
    uint64_t own = rf_qualified_provider ("自社運用株式会社");
    rf_contacts (own);
    uint64_t service = rf_registered_service (own, own);
    uint64_t contract = rf_contract ("operator", own, "131041", service);
    uint64_t connection = s_connection_applied (service);
    long changes = rf_count ("changes");
    long contracts = rf_count ("contracts");
    long connections = rf_count ("connections");

    //  A contract: read, and cancelled
    Lgwan__V1__ContractGet get = LGWAN__V1__CONTRACT_GET__INIT, get_none = get;
    get.contract = contract;
    get_none.contract = none;
    s_told_as_missing (rf_ask ("provider2", RF_BODY (CONTRACT_GET), &get),
                       rf_ask ("provider2", RF_BODY (CONTRACT_GET), &get_none),
                       "contract", contract, none);
    rf_ok (rf_ask ("viewer", RF_BODY (CONTRACT_GET), &get));
    rf_refused (rf_ask ("viewer", RF_BODY (CONTRACT_GET), &get_none), RF_CODE (NOT_FOUND), "");
    s_told_as_missing (s_cancel ("provider2", NOTIFICATION, "contract", contract, ""),
                       s_cancel ("provider2", NOTIFICATION, "contract", none, ""),
                       "contract", contract, none);
    rf_refused (s_cancel ("operator", NOTIFICATION, "contract", none, ""), RF_CODE (NOT_FOUND), "");

    //  A provider's history and record
    s_told_as_missing (s_history ("provider2", "provider", own),
                       s_history ("provider2", "provider", none), "provider", own, none);
    rf_ok (s_history ("operator", "provider", own));
    rf_refused (s_history ("operator", "provider", none), RF_CODE (NOT_FOUND), "");
    s_told_as_missing (rf_provider_get ("provider2", own), rf_provider_get ("provider2", none),
                       "provider", own, none);

    //  A service: read, and a connection applied for
    Lgwan__V1__ServiceGet service_get = LGWAN__V1__SERVICE_GET__INIT, service_none = service_get;
    service_get.service = service;
    service_none.service = none;
    s_told_as_missing (rf_ask ("provider2", RF_BODY (SERVICE_GET), &service_get),
                       rf_ask ("provider2", RF_BODY (SERVICE_GET), &service_none),
                       "service", service, none);
    rf_ok (rf_ask ("viewer", RF_BODY (SERVICE_GET), &service_get));
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.router = (char *) "rt-tokyo-01";
    apply.line_carrier = (char *) "NTT東日本";
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = 28;
    Lgwan__V1__ConnectionApply apply_none = apply;
    apply.service = service;
    apply_none.service = none;
    s_told_as_missing (rf_ask ("provider2", RF_BODY (CONNECTION_APPLY), &apply),
                       rf_ask ("provider2", RF_BODY (CONNECTION_APPLY), &apply_none),
                       "service", service, none);

    //  A connection
    Lgwan__V1__ConnectionGet connection_get = LGWAN__V1__CONNECTION_GET__INIT;
    Lgwan__V1__ConnectionGet connection_none = connection_get;
    connection_get.connection = connection;
    connection_none.connection = none;
    s_told_as_missing (rf_ask ("provider2", RF_BODY (CONNECTION_GET), &connection_get),
                       rf_ask ("provider2", RF_BODY (CONNECTION_GET), &connection_none),
                       "connection", connection, none);
    rf_ok (rf_ask ("viewer", RF_BODY (CONNECTION_GET), &connection_get));
    rf_refused (rf_ask ("viewer", RF_BODY (CONNECTION_GET), &connection_none),
                RF_CODE (NOT_FOUND), "");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("connections"), connections);
}

/* REQ X.3: a provider reads and files only for itself (another's record is
   to it one that does not exist: NOT_FOUND), and a refusal carries no
   record; a viewer never writes */
static void
test_x3_permissions (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_contract ("provider1", 1, "131032", service);
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long contracts = rf_count ("contracts");

    rf_refused (rf_provider_get ("provider2", 1), RF_CODE (NOT_FOUND), "");
    Lgwan__V1__ContractsOfProvider q = LGWAN__V1__CONTRACTS_OF_PROVIDER__INIT;
    q.provider = 1;
    rf_refused (rf_ask ("provider2", RF_BODY (CONTRACTS_OF_PROVIDER), &q), RF_CODE (NOT_FOUND), "");
    Lgwan__V1__ContractGet get = LGWAN__V1__CONTRACT_GET__INIT;
    get.contract = contract;
    rf_refused (rf_ask ("provider2", RF_BODY (CONTRACT_GET), &get), RF_CODE (NOT_FOUND), "");
    rf_refused (s_history ("provider2", "provider", 1), RF_CODE (NOT_FOUND), "");
    rf_refused (s_history ("provider2", "contract", contract), RF_CODE (NOT_FOUND), "");
    rf_refused (s_new_contacts ("provider2", "なりすまし", 1, "侵入者"), RF_CODE (NOT_FOUND), "");
    rf_refused (s_cancel ("provider2", NOTIFICATION, "contract", contract, ""),
                RF_CODE (NOT_FOUND), "");
    Lgwan__V1__ChangeList changes_of = LGWAN__V1__CHANGE_LIST__INIT;
    changes_of.subject = (char *) "provider";
    changes_of.id = 1;
    rf_refused (rf_ask ("provider2", RF_BODY (CHANGE_LIST), &changes_of), RF_CODE (NOT_FOUND), "");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);

    //  A service: only its holders read it
    uint64_t third = rf_qualified_provider ("第三者株式会社");
    Lgwan__V1__ServiceGet service_get = LGWAN__V1__SERVICE_GET__INIT;
    service_get.service = rf_registered_service (1, third);
    rf_refused (rf_ask ("provider2", RF_BODY (SERVICE_GET), &service_get), RF_CODE (NOT_FOUND), "");
    rf_ok (rf_ask ("provider1", RF_BODY (SERVICE_GET), &service_get));
    changes = rf_count ("changes");
    versions = rf_count ("versions");

    //  A viewer reads, never writes
    rf_refused (s_new_contacts ("viewer", "閲覧者", 1, "閲覧者"), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_cancel ("viewer", NOTIFICATION, "contract", contract, ""),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (rf_activate ("viewer", contract), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_ok (rf_ask ("viewer", RF_BODY (CONTRACTS_OF_PROVIDER), &q));

    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("contracts"), contracts);
    s_assert_status ("contracts", contract, "draft");

    //  Its own record, yes
    lg_reply_t *reply = rf_ask ("provider1", RF_BODY (CONTRACT_GET), &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contract->contract->id, contract);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ X.3: SQL metacharacters and Japanese are stored byte-exact; 10 KB
   names are refused and write nothing */
static void
test_x3_bad_input (void **state)
{
    (void) state;
    //  Metacharacters, byte-exact through apply, get, list and the database
    const char *meta = "Robert'); DROP TABLE registry.providers;-- \\ % _ \" $1 ::text";
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body (meta, number);
    uint64_t id = rf_apply (&apply);
    char *name = s_provider_name (id, NULL);
    assert_int_equal (strlen (name), strlen (meta));
    assert_memory_equal (name, meta, strlen (meta));
    free (name);
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT encode (convert_to (name_ja, 'UTF8'), 'hex')"
                               " FROM registry.providers WHERE id = %" PRIu64, id);
    char *hex = rf_sql_text (sql);
    assert_non_null (hex);
    assert_int_equal (strlen (hex), 2 * strlen (meta));
    for (size_t i = 0; i < strlen (meta); i++) {
        unsigned byte;
        sscanf (hex + 2 * i, "%2x", &byte);
        assert_int_equal (byte, (unsigned char) meta [i]);
    }
    free (hex);
    assert_true (rf_count ("providers") > 0);

    Lgwan__V1__ProviderList list = LGWAN__V1__PROVIDER_LIST__INIT;
    list.name_prefix = (char *) "Robert'); DROP";
    lg_reply_t *reply = rf_ask ("viewer", RF_BODY (PROVIDER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->provider_list->n_providers, 1);
    assert_int_equal (reply->provider_list->providers [0]->id, id);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    list.name_prefix = (char *) "%";        //  a character, not a pattern
    reply = rf_ask ("viewer", RF_BODY (PROVIDER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->provider_list->n_providers, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Japanese (with a character outside the BMP) through apply, get and a
    //  change application that is stored as JSON and applied later
    const char *ja = "𠮷野髙﨑株式会社（ＬＧＷＡＮ）～①";
    apply = rf_apply_body (ja, number);
    uint64_t jid = rf_apply (&apply);
    name = s_provider_name (jid, NULL);
    assert_int_equal (strlen (name), strlen (ja));
    assert_memory_equal (name, ja, strlen (ja));
    free (name);
    rf_qualify (jid);
    const char *renamed = "𠮷野髙﨑ホールディングス株式会社～②";
    uint64_t change = s_change_id (s_rename ("operator", APPLICATION, jid, renamed), "pending");
    rf_ok (s_decide ("reviewer", change, APPROVED, "確認済み"));
    name = s_provider_name (jid, NULL);
    assert_int_equal (strlen (name), strlen (renamed));
    assert_memory_equal (name, renamed, strlen (renamed));
    free (name);

    //  256 characters is the most a name has; 257 and 10 KB are refused
    char *longest = s_repeat ("名", 256);
    apply = rf_apply_body (longest, number);
    name = s_provider_name (rf_apply (&apply), NULL);
    assert_string_equal (name, longest);
    free (name);
    free (longest);

    long providers = rf_count ("providers");
    long changes = rf_count ("changes");
    long services = rf_count ("services");
    long versions = rf_count ("versions");
    long events = rf_count ("outbox");
    char *over = s_repeat ("名", 257);
    char *ten_kb = s_repeat ("A", 10 * 1024);
    char *ten_kb_ja = s_repeat ("名", 10 * 1024 / 3);
    const char *names [] = { over, ten_kb, ten_kb_ja };
    for (size_t i = 0; i < 3; i++) {
        apply = rf_apply_body (names [i], number);
        rf_refused (rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply),
                    RF_CODE (INVALID_ARGUMENT), "X.3");
        rf_refused (s_rename ("operator", APPLICATION, jid, names [i]),
                    RF_CODE (INVALID_ARGUMENT), "X.3");
        rf_refused (s_new_contacts ("operator", "長すぎる", jid, names [i]),
                    RF_CODE (INVALID_ARGUMENT), "X.3");
        Lgwan__V1__RoleHolder holder [2] = { LGWAN__V1__ROLE_HOLDER__INIT,
                                             LGWAN__V1__ROLE_HOLDER__INIT };
        holder [0].provider = 1;
        holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
        holder [1].provider = 2;
        holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
        Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1] };
        char service [32];
        rf_service_name (service, sizeof service);
        rf_refused (rf_service_register (service, names [i], holders, 2),
                    RF_CODE (INVALID_ARGUMENT), "X.3");
    }
    free (over);
    free (ten_kb);
    free (ten_kb_ja);
    assert_int_equal (rf_count ("providers"), providers);
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("services"), services);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
}

static int
s_setup (void **state)
{
    (void) state;
    return rf_setup ("regchanges");
}

/* REQ R4.2: the changes are read page by page in id order, all of them or
   one record's; nothing is left out (the list stopped silently at 500) */

typedef struct {
    const char *subject;                //  NULL: all
    uint64_t id;
    uint32_t limit;
    uint64_t last;                      //  the last change listed
} s_changes_t;

//  One page of ChangeList (lg_test_pages)
static uint64_t
s_change_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_changes_t *l = (s_changes_t *) arg;
    Lgwan__V1__ChangeList q = LGWAN__V1__CHANGE_LIST__INIT;
    q.subject = (char *) (l->subject? l->subject: "");
    q.id = l->id;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_LIST), &q);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ChangeListReply *page = reply->change_list;
    assert_true (page->n_changes <= (l->limit? l->limit: 50));
    for (size_t i = 0; i < page->n_changes; i++) {
        assert_true (page->changes [i]->id > l->last);
        *last_id = l->last = page->changes [i]->id;
        if (l->subject) {
            assert_string_equal (page->changes [i]->subject, l->subject);
            assert_int_equal (page->changes [i]->subject_id, l->id);
        }
    }
    *items = page->n_changes;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

//  Every page of ChangeList (subject NULL: all), limit at a time; how many
static long
s_change_pages (const char *subject, uint64_t id, uint32_t limit)
{
    s_changes_t list = { subject, id, limit, 0 };
    return lg_test_pages (s_change_page, &list);
}

static void
test_r4_2_change_list_pages (void **state)
{
    (void) state;
    long total = rf_count ("changes");
    assert_true (total >= 3);
    assert_int_equal (s_change_pages (NULL, 0, 2), total);
    assert_int_equal (s_change_pages (NULL, 0, 0), total);     //  the default page
    assert_int_equal (s_change_pages ("provider", 1, 1),
                      rf_sql_long ("SELECT count(*) FROM registry.changes"
                                   " WHERE subject = 'provider' AND subject_id = 1"));

    //  A page larger than 500 is refused, and nothing changes
    Lgwan__V1__ChangeList q = LGWAN__V1__CHANGE_LIST__INIT;
    q.limit = 501;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_LIST), &q);
    assert_non_null (strstr (reply->status->message, "at most 500"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    assert_int_equal (rf_count ("changes"), total);
}

//  The last version of contract id: its actor and reason, and whether its
//  record is cancelled, checked
static void
s_contract_ended (uint64_t id, const char *actor, const char *reason)
{
    lg_reply_t *reply = s_history ("viewer", "contract", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_true (h->n_versions >= 2);
    const Lgwan__V1__Version *last = h->versions [h->n_versions - 1];
    assert_string_equal (last->actor, actor);
    assert_string_equal (last->reason, reason);
    assert_non_null (strstr (last->record, "\"status\": \"cancelled\""));
    assert_non_null (strstr (h->versions [h->n_versions - 2]->record, "\"status\": \"active\""));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2: a provider's cancellation ends its contracts in force in the
   same transaction: each active contract is cancelled with a version by
   whoever made the cancellation effective (the reviewer who approved it;
   system:registry on its date) whose reason names the provider's
   cancellation, and CancellationEffective of the contract, as a contract's
   own cancellation publishes, once. ContractsOfProvider shows them
   cancelled, none active; a draft is withdrawn (it never took effect:
   test_r4_2_provider_cancellation_withdraws_its_drafts). A
   contract's own cancellation scheduled for later lapses on its date,
   nothing published again. Before, the contracts stayed active:
   ContractsOfProvider listed them among the active ones for the
   orchestrator, and no change could be filed on them (ended with its
   provider) */
/* REQ R7.1 */
static void
test_r4_2_provider_cancellation_ends_its_contracts (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("契約終了株式会社");
    uint64_t service = rf_registered_service (provider, 2);
    uint64_t ended [2];
    ended [0] = rf_active_contract ("operator", provider, "131016", service);
    ended [1] = rf_active_contract ("operator", provider, "131041", service);
    uint64_t draft = rf_contract ("operator", provider, "130001", service);
    uint64_t later = s_change_id (s_cancel ("operator", NOTIFICATION, "contract", ended [1],
                                            "2027-03-05"), "scheduled");
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", provider, ""),
                                   "pending");
    lg_reply_t *reply = rf_contracts_of ("viewer", provider, true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_decide ("reviewer", change, APPROVED, "事業撤退を承認"));
    s_assert_status ("providers", provider, "cancelled");

    //  The orchestrator's question: none active; both ended, the draft withdrawn
    reply = rf_contracts_of ("viewer", provider, true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = rf_contracts_of ("viewer", provider, false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 3);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (reply->contracts->contracts [i]->id, ended [i]);
        assert_string_equal (reply->contracts->contracts [i]->status, "cancelled");
    }
    assert_int_equal (reply->contracts->contracts [2]->id, draft);
    assert_string_equal (reply->contracts->contracts [2]->status, "withdrawn");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Each in its history, and published once, as of the provider's day
    char *why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %"
                              PRIu64 "): 事業撤退を承認", provider, change);
    for (int i = 0; i < 2; i++) {
        s_contract_ended (ended [i], "reviewer:rita", why);
        char effective [11] = "";
        uint64_t owner = 0;
        assert_int_equal (rf_cancellations ("contract", ended [i], effective, &owner), 1);
        assert_string_equal (effective, RF_TODAY);
        assert_int_equal (owner, provider);
    }
    zstr_free (&why);
    assert_int_equal (rf_cancellations ("provider", provider, NULL, NULL), 1);
    assert_int_equal (rf_cancellations ("contract", draft, NULL, NULL), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                    " 'contract' AND subject_id = %" PRIu64, draft), 2);
    rf_refused (s_cancel ("operator", NOTIFICATION, "contract", ended [0], ""),
                RF_CODE (FAILED_PRECONDITION), "R4.2");

    //  A provider cancelled on its date by the duty: its contract with it
    uint64_t other = rf_qualified_provider ("期日契約終了株式会社");
    uint64_t contract = rf_active_contract ("operator", other, "131016",
                                            rf_registered_service (other, 2));
    uint64_t due = s_change_id (s_cancel ("operator", APPLICATION, "provider", other,
                                          "2027-03-05"), "pending");
    rf_ok (s_decide ("reviewer", due, APPROVED, "廃止を承認"));
    s_assert_status ("changes", due, "scheduled");
    s_assert_status ("contracts", contract, "active");
    long events = rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);

    rf_set_clock ("2027-03-05T00:00:00Z");
    assert_true (lg_test_wait_for (s_change_effective, &due, 5000));
    s_assert_status ("contracts", contract, "cancelled");
    why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %" PRIu64
                        "): change %" PRIu64 " filed by operator:alice: 契約終了", other, due, due);
    s_contract_ended (contract, "system:registry", why);
    zstr_free (&why);
    char effective [11] = "";
    assert_int_equal (rf_cancellations ("contract", contract, effective, NULL), 1);
    assert_string_equal (effective, "2027-03-05");
    //  The first provider's contract cancellation, due the same day, lapsed:
    //  its contract ended with its provider, published once
    char *status = s_status_of ("changes", later);
    assert_non_null (status);
    if (!streq (status, "lapsed"))
        fail_msg ("cancellation %" PRIu64 " of contract %" PRIu64 " is %s, not lapsed", later,
                  ended [1], status);
    free (status);
    assert_int_equal (rf_cancellations ("contract", ended [1], NULL, NULL), 1);
    //  The provider's and its contract's: no more
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE), events + 2);
}

/* REQ R4.2: a provider's cancellation withdraws its draft contracts in the
   same transaction, as it ends the active ones: status withdrawn, a version
   by whoever made the cancellation effective whose reason names it, and no
   CancellationEffective (a draft never took effect, as its own withdrawal).
   After it, the draft is neither delivered to, activated nor withdrawn
   again (R4.2 "is withdrawn"), and ContractsOfProvider shows it withdrawn.
   Before, it stayed a draft for good: its activation was refused (its
   provider cancelled, R4.1), and so was its withdrawal ("ended with its
   provider"), so a contract that never began was left dangling */
static void
test_r4_2_provider_cancellation_withdraws_its_drafts (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("下書き契約株式会社");
    uint64_t service = rf_registered_service (provider, 2);
    uint64_t draft = rf_contract ("operator", provider, "131016", service);
    rf_ok (rf_deliver (draft, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, RF_TODAY));
    uint64_t change = s_change_id (s_cancel ("operator", APPLICATION, "provider", provider, ""),
                                   "pending");
    long ended = rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
    rf_ok (s_decide ("reviewer", change, APPROVED, "事業撤退を承認"));
    s_assert_status ("providers", provider, "cancelled");
    s_assert_status ("contracts", draft, "withdrawn");

    //  Its history: filed, delivery, withdrawn by the reviewer naming the cancellation
    lg_reply_t *reply = s_history ("viewer", "contract", draft);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, 3);
    assert_non_null (strstr (h->versions [1]->record, "\"status\": \"draft\""));
    assert_non_null (strstr (h->versions [2]->record, "\"status\": \"withdrawn\""));
    assert_string_equal (h->versions [2]->actor, "reviewer:rita");
    char *why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %"
                              PRIu64 "): 事業撤退を承認", provider, change);
    assert_string_equal (h->versions [2]->reason, why);
    zstr_free (&why);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Only the provider's end is published
    assert_int_equal (rf_cancellations ("contract", draft, NULL, NULL), 0);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE), ended + 1);

    //  Nothing more of it
    long versions = rf_count ("versions");
    rf_refused (rf_deliver (draft, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, RF_TODAY),
                RF_CODE (FAILED_PRECONDITION), "R7.2");
    rf_refused (rf_activate ("operator", draft), RF_CODE (FAILED_PRECONDITION), "R7.2");
    reply = s_cancel ("operator", NOTIFICATION, "contract", draft, "");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_non_null (strstr (reply->status->message, "is withdrawn"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("versions"), versions);
    s_assert_status ("contracts", draft, "withdrawn");
    reply = rf_contracts_of ("viewer", provider, false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 1);
    assert_string_equal (reply->contracts->contracts [0]->status, "withdrawn");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.2, REQ R3.1, REQ R3.2, REQ R4.1, REQ R4.3, REQ R7.1, REQ R7.2,
   REQ R8.1, REQ R9.1, REQ R11.3: every request of the registry that
   carries an id (a provider, a service, a contract, a connection, a
   change, a page's after_id; a role holder's provider inside a service
   or a change) refuses one past a bigint INVALID_ARGUMENT naming the rule
   of the request and the field, and changes nothing; each took it to SQL
   (where the cast failed) or to a comparison in C */
static void
test_r4_2_requests_refuse_ids_past_bigint (void **state)
{
    (void) state;
    static const lg_test_id_request_t requests [] = {
        { "provider_get", "viewer", "R3.1" },
        { "provider_list", "viewer", "R3.1" },
        { "president_approval_record", "operator", "R3.2" },
        { "qualification_review", "reviewer", "R4.3" },
        { "qualification_decide", "reviewer", "R4.3" },
        { "service_register", "operator", "R9.1" },
        { "service_get", "viewer", "R9.1" },
        { "service_list", "viewer", "R9.1" },
        { "service_review", "reviewer", "R4.3" },
        { "service_decide", "reviewer", "R4.3" },
        { "contract_create", "operator", "R7.1" },
        { "contract_record_delivery", "operator", "R7.2" },
        { "contract_activate", "operator", "R7.2" },
        { "contract_get", "viewer", "R7.1" },
        { "contracts_of_provider", "viewer", "R7.1" },
        { "interconnection_register", "operator", "R8.1" },
        { "interconnection_list", "viewer", "R8.1" },
        { "change_file", "operator", "R4.2" },
        { "change_decide", "reviewer", "R4.3" },
        { "change_list", "viewer", "R4.2" },
        { "history", "viewer", "R4.2" },
        { "connection_apply", "operator", "R4.1" },
        { "connection_get", "viewer", "R4.1" },
        { "connection_review", "reviewer", "R4.3" },
        { "connection_decide", "reviewer", "R4.3" },
        { "connection_list", "viewer", "R4.1" },
        { "server_register", "operator", "R11.3" },
        { "server_list", "viewer", "R11.3" },
        { NULL }
    };
    assert_true (lg_test_ids_past_bigint (&rf.registry, rf.admin, rf.certs, 100, 199, requests)
                 > 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r4_2_contacts_notification),
        cmocka_unit_test (test_r4_2_name_change_application),
        cmocka_unit_test (test_r4_2_cancel_today),
        cmocka_unit_test_teardown (test_r4_2_cancel_tokyo_day, rf_clock_back),
        cmocka_unit_test_teardown (test_r4_2_late_approval_records_the_day_it_took_effect,
                                   rf_clock_back),
        cmocka_unit_test_teardown (test_x1_due_cancellation_keeps_who_filed_it_and_why,
                                   rf_clock_back),
        cmocka_unit_test (test_r4_2_service_changes),
        cmocka_unit_test (test_r9_2_hosting_moves_only_without_its_connections),
        cmocka_unit_test (test_r4_2_rejected_is_not_changed_or_cancelled),
        cmocka_unit_test (test_r4_2_notification_is_not_filed_as_application),
        cmocka_unit_test (test_r4_2_what_never_took_effect_is_not_cancelled),
        cmocka_unit_test_teardown (test_r4_2_cancellation_of_what_never_took_effect_lapses,
                                   rf_clock_back),
        cmocka_unit_test (test_r4_2_provider_reads_the_history_of_its_own_records),
        cmocka_unit_test (test_x3_history_read_takes_no_lock),
        cmocka_unit_test (test_x3_change_lists_are_bounded_before_the_record_is_locked),
        cmocka_unit_test (test_x3_permissions),
        cmocka_unit_test (test_x3_another_providers_record_is_told_as_missing),
        cmocka_unit_test (test_r4_2_another_providers_filing_is_denied),
        cmocka_unit_test (test_r4_2_interconnection_is_cancelled),
        cmocka_unit_test (test_r4_2_provider_cancellation_ends_its_interconnections),
        cmocka_unit_test (test_r4_2_draft_contract_is_withdrawn),
        cmocka_unit_test (test_r4_2_provider_cancellation_withdraws_its_drafts),
        cmocka_unit_test (test_x3_bad_input),
        cmocka_unit_test_teardown (test_r4_2_cancel_scheduled, rf_clock_back),
        cmocka_unit_test_teardown (test_r4_2_cancel_while_down, rf_clock_back),
        cmocka_unit_test_teardown (test_r4_2_second_cancellation_lapses, rf_clock_back),
        cmocka_unit_test (test_r4_2_change_list_pages),
        cmocka_unit_test_teardown (test_r4_2_provider_cancellation_ends_its_contracts,
                                   rf_clock_back),
        cmocka_unit_test (test_r4_2_requests_refuse_ids_past_bigint),
    };
    return cmocka_run_group_tests (tests, s_setup, rf_teardown);
}
