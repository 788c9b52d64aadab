/*  System test of lgwan-registry filings: the reference list (R3.1), the
    President's approval (R3.2), data centres (R3.3), the qualification
    review (R4.1, R4.3), services and their Art.9 role holders (R9.1, R9.2,
    R10.1, R12.1, R13.1), contracts (R7.1, R7.2) and interconnections (R8.1,
    R8.2). The real binary, driven black-box; see registry_fixture.h.
*/
#include "registry_fixture.h"
#include <pthread.h>

//  ---------------------------------------------------------------------------
//  Helpers

static lg_reply_t *
s_reference_get (const char *who, const char *lgcode)
{
    Lgwan__V1__ReferenceGet get = LGWAN__V1__REFERENCE_GET__INIT;
    get.lgcode = (char *) lgcode;
    return rf_ask (who, RF_BODY (REFERENCE_GET), &get);
}

//  The shipped list plus one entry, loaded by the operator (caller frees)
static lg_reply_t *
s_load_with (const char *lgcode, const char *name)
{
    char *path = zsys_sprintf ("%s/deploy/data/local-governments.csv", getenv ("LG_SOURCE_DIR"));
    char why [256];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    assert_non_null (list);
    zstr_free (&path);
    Lgwan__V1__LocalGovernment extra = LGWAN__V1__LOCAL_GOVERNMENT__INIT;
    extra.lgcode = (char *) lgcode;
    extra.prefecture = (char *) "静岡県";
    extra.name = (char *) name;
    extra.kind = (char *) "municipality";
    Lgwan__V1__LocalGovernment **shipped = list->entries;
    Lgwan__V1__LocalGovernment **entries = calloc (list->n_entries + 1, sizeof (void *));
    memcpy (entries, shipped, list->n_entries * sizeof (void *));
    entries [list->n_entries++] = &extra;
    list->entries = entries;
    char *source = list->source;
    list->source = (char *) "system test: shipped list plus one";
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (REFERENCE_LOAD), list);
    //  Give back what lg_reference_read allocated
    list->entries = shipped;
    list->n_entries--;
    list->source = source;
    free (entries);
    lgwan__v1__reference_load__free_unpacked (list, NULL);
    return reply;
}

static lg_reply_t *
s_apply_local_government (const char *lgcode)
{
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "浜松市";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT;
    apply.lgcode = (char *) lgcode;
    return rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply);
}

//  The provider an application's reply says was applied (freed)
static uint64_t
s_applied_id (lg_reply_t *reply)
{
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  A local government's application, applied: its provider id
static uint64_t
s_applied_local_government (const char *lgcode)
{
    return s_applied_id (s_apply_local_government (lgcode));
}

static lg_reply_t *
s_review (const char *who, uint64_t provider)
{
    Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    review.provider = provider;
    return rf_ask (who, RF_BODY (QUALIFICATION_REVIEW), &review);
}

static lg_reply_t *
s_decide (const char *who, uint64_t provider, Lgwan__V1__Outcome outcome, const char *reason)
{
    Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    decide.provider = provider;
    decide.outcome = outcome;
    decide.reason = (char *) reason;
    return rf_ask (who, RF_BODY (QUALIFICATION_DECIDE), &decide);
}

//  The provider's status as a viewer reads it: "applied", ...
static void
s_assert_status (uint64_t provider, const char *status)
{
    lg_reply_t *reply = rf_provider_get ("viewer", provider);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->provider->provider->status, status);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

static lg_reply_t *
s_approval (uint64_t provider, const char *on)
{
    Lgwan__V1__PresidentApproval approval = LGWAN__V1__PRESIDENT_APPROVAL__INIT;
    approval.approved_by = (char *) "地方公共団体情報システム機構理事長";
    approval.approved_on = (char *) on;
    approval.reference = (char *) "地情機第42号";
    Lgwan__V1__PresidentApprovalRecord record = LGWAN__V1__PRESIDENT_APPROVAL_RECORD__INIT;
    record.provider = provider;
    record.approval = &approval;
    return rf_ask ("operator", RF_BODY (PRESIDENT_APPROVAL_RECORD), &record);
}

static lg_reply_t *
s_apply_with_centre (const char *country, const char *prefecture)
{
    Lgwan__V1__DataCentre centre = LGWAN__V1__DATA_CENTRE__INIT;
    centre.name = (char *) "第一データセンター";
    centre.country = (char *) country;
    centre.prefecture = (char *) prefecture;
    centre.address = (char *) "東京都千代田区一番町1-1";
    Lgwan__V1__DataCentre *centres [] = { &centre };
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body ("データセンター株式会社", number);
    apply.data_centres = centres;
    apply.n_data_centres = 1;
    return rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply);
}

static lg_reply_t *
s_change_centres (uint64_t provider, const char *country, const char *prefecture)
{
    Lgwan__V1__DataCentre centre = LGWAN__V1__DATA_CENTRE__INIT;
    centre.name = (char *) "移転先センター";
    centre.country = (char *) country;
    centre.prefecture = (char *) prefecture;
    Lgwan__V1__DataCentre *centres [] = { &centre };
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.data_centres = centres;
    patch.n_data_centres = 1;
    patch.replace_data_centres = true;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    change.subject = (char *) "provider";
    change.id = provider;
    change.provider = &patch;
    return rf_ask ("operator", RF_BODY (CHANGE_FILE), &change);
}

//  A role holder
static Lgwan__V1__RoleHolder
s_holder (uint64_t provider, Lgwan__V1__ServiceRole role, const char *carrier)
{
    Lgwan__V1__RoleHolder holder = LGWAN__V1__ROLE_HOLDER__INIT;
    holder.provider = provider;
    holder.role = role;
    holder.carrier_number = (char *) (carrier? carrier: "");
    return holder;
}

#define CONTENT  LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT
#define HOSTING  LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING
#define NETWORK  LGWAN__V1__SERVICE_ROLE__ROLE_NETWORK_LAYER
#define TELECOM  LGWAN__V1__SERVICE_ROLE__ROLE_TELECOM
#define FACILITY LGWAN__V1__SERVICE_ROLE__ROLE_FACILITY

//  Register a service with these holders (operator): the reply, caller frees
static lg_reply_t *
s_register (Lgwan__V1__RoleHolder *holder, size_t n)
{
    Lgwan__V1__RoleHolder *holders [8];
    assert_true (n <= 8);
    for (size_t i = 0; i < n; i++)
        holders [i] = &holder [i];
    char name [32];
    rf_service_name (name, sizeof name);
    return rf_service_register (name, "住民向け電子申請", holders, n);
}

static lg_reply_t *
s_contract_create (const char *who, uint64_t provider, const char *lgcode, uint64_t service,
                   const char *responsibility)
{
    Lgwan__V1__ContractCreate c = LGWAN__V1__CONTRACT_CREATE__INIT;
    c.provider = provider;
    c.lgcode = (char *) lgcode;
    c.services = &service;
    c.n_services = 1;
    c.responsibility = (char *) responsibility;
    return rf_ask (who, RF_BODY (CONTRACT_CREATE), &c);
}

static lg_reply_t *
s_interconnect (const char *who, uint64_t a, uint64_t b, const char *justification)
{
    Lgwan__V1__InterconnectionRegister r = LGWAN__V1__INTERCONNECTION_REGISTER__INIT;
    r.provider_a = a;
    r.provider_b = b;
    r.justification = (char *) justification;
    return rf_ask (who, RF_BODY (INTERCONNECTION_REGISTER), &r);
}

//  ---------------------------------------------------------------------------
//  Tests

/* REQ R3.1: the reference list of local governments decides which type 1
   provider exists; a list is loaded whole or not at all; a new list replaces
   the old one */
static void
test_r3_1_reference_list (void **state)
{
    (void) state;
    //  ReferenceGet, by any role
    lg_reply_t *reply = s_reference_get ("provider1", "131016");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->lgcode, "131016");
    assert_string_equal (reply->reference->entry->name, "千代田区");
    assert_string_equal (reply->reference->entry->prefecture, "東京都");
    assert_string_equal (reply->reference->entry->kind, "municipality");
    uint64_t first = reply->reference->list_version;
    assert_int_equal (first, rf_sql_long ("SELECT max(version) FROM registry.reference_lists"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_reference_get ("viewer", "131017"), RF_CODE (INVALID_ARGUMENT), "R3.1");
    rf_refused (s_reference_get ("viewer", "221384"), RF_CODE (NOT_FOUND), "");
    //  The refusal quotes 16 bytes of what was sent: of Japanese, that cut a
    //  character, the client refused the reply as malformed and no answer
    //  came (X.3). It is now valid UTF-8.
    reply = s_reference_get ("viewer", "株式会社テスト");
    rf_expect (reply, RF_CODE (INVALID_ARGUMENT), "R3.1");
    assert_string_equal (reply->status->message,
                         "local government code \"株式会社テ?\" has no valid check digit");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  221384 has a valid check digit but is not in the list
    long providers = rf_count ("providers");
    long events = rf_count ("outbox");
    rf_refused (s_apply_local_government ("221384"), RF_CODE (FAILED_PRECONDITION), "R3.1");
    assert_int_equal (rf_count ("providers"), providers);
    assert_int_equal (rf_count ("outbox"), events);

    //  One bad check digit among 1964 rows: nothing is loaded
    long lists = rf_count ("reference_lists");
    rf_refused (s_load_with ("221385", "浜松市 中央区"), RF_CODE (INVALID_ARGUMENT), "R3.1");
    assert_int_equal (rf_count ("reference_lists"), lists);
    assert_int_equal (rf_count ("local_governments"), 1963);
    reply = s_reference_get ("viewer", "131016");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->reference->list_version, first);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_reference_get ("viewer", "221385"), RF_CODE (INVALID_ARGUMENT), "R3.1");

    //  Only an operator loads a list
    char *path = zsys_sprintf ("%s/deploy/data/local-governments.csv", getenv ("LG_SOURCE_DIR"));
    char why [256];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    assert_non_null (list);
    rf_refused (rf_ask ("reviewer", RF_BODY (REFERENCE_LOAD), list),
                RF_CODE (PERMISSION_DENIED), "X.3");
    lgwan__v1__reference_load__free_unpacked (list, NULL);
    zstr_free (&path);
    assert_int_equal (rf_count ("reference_lists"), lists);

    //  A second list replaces the first
    reply = s_load_with ("221384", "浜松市 中央区");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->reference_load->entries, 1964);
    uint64_t second = reply->reference_load->list_version;
    assert_true (second > first);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("local_governments"), 1964);
    reply = s_reference_get ("viewer", "221384");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->name, "浜松市 中央区");
    assert_int_equal (reply->reference->list_version, second);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_reference_get ("viewer", "131016");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->reference->list_version, second);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  ... and it names a ward of a designated city (浜松市's, since 2024),
    //  which is no local government: its city applies (migration 014)
    reply = s_reference_get ("viewer", "221384");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->kind, "ward");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_apply_local_government ("221384");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R3.1");
    assert_non_null (strstr (reply->status->message, "is a ward of a designated city"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("providers"), providers);

    //  A list that names the code a municipality (a made-up one here, as no
    //  municipality has been made since): the code is usable now
    rf_ok (s_load_with ("221384", "試験村"));
    reply = s_apply_local_government ("221384");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->provider->provider->lgcode, "221384");
    assert_int_equal (reply->provider->provider->entity_type,
                      LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("providers"), providers + 1);
}

/* REQ R3.1, REQ R7.1: a ward of a designated city (札幌市 中央区, 011011)
   has a code in the reference list, which calls it a municipality, but is
   no local government: not a provider of type 1, not a contract's using
   body (its city is). Both were accepted. Tokyo's special wards are local
   governments and stay so; the list loaded marks the 175 wards */
static void
test_r3_1_r7_1_designated_city_ward_is_no_local_government (void **state)
{
    (void) state;
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM registry.local_governments"
                                   " WHERE kind = 'ward'"), 175);
    lg_reply_t *reply = s_reference_get ("viewer", "011011");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->kind, "ward");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_reference_get ("viewer", "131016");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->kind, "municipality");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_reference_get ("viewer", "011002");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->reference->entry->kind, "municipality");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    long providers = rf_count ("providers"), events = rf_count ("outbox");
    reply = s_apply_local_government ("011011");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R3.1");
    assert_string_equal (reply->status->message, "local government code 011011 (札幌市 中央区)"
                         " is a ward of a designated city, not a local government: its city is");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("providers"), providers);
    assert_int_equal (rf_count ("outbox"), events);

    uint64_t service = rf_registered_service (1, 2);
    long contracts = rf_count ("contracts");
    events = rf_count ("outbox");
    reply = s_contract_create ("provider1", 1, "011011", service, "提供と運用の責任");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R7.1");
    assert_non_null (strstr (reply->status->message, "using body 011011 (札幌市 中央区) is a ward"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("outbox"), events);
}

/* REQ R3.2: a voluntary organisation is qualified only after the
   President's approval is recorded */
static void
test_r3_2_president_approval (void **state)
{
    (void) state;
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "自治体情報化推進協議会";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    uint64_t id = rf_apply (&apply);
    rf_ok (s_review ("reviewer", id));

    long decisions = rf_count ("decisions");
    rf_refused (s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "適格"),
                RF_CODE (FAILED_PRECONDITION), "R3.2");
    s_assert_status (id, "under_review");
    assert_int_equal (rf_count ("decisions"), decisions);

    //  Not for other types; the date must be a real one
    long versions = rf_count ("versions");
    rf_refused (s_approval (2, "2027-02-15"), RF_CODE (FAILED_PRECONDITION), "R3.2");
    rf_refused (s_approval (id, "2027-02-29"), RF_CODE (INVALID_ARGUMENT), "R3.2");
    rf_refused (s_approval (id, "20270215"), RF_CODE (INVALID_ARGUMENT), "R3.2");
    rf_refused (s_approval (id, "2027-03-02"), RF_CODE (INVALID_ARGUMENT), "R3.2");    //  after today
    rf_refused (s_approval (id, ""), RF_CODE (INVALID_ARGUMENT), "R3.2");
    assert_int_equal (rf_count ("versions"), versions);
    lg_reply_t *reply = rf_provider_get ("viewer", 2);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_null (reply->provider->provider->president_approval);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    reply = s_approval (id, "2027-02-15");
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__PresidentApproval *a = reply->provider->provider->president_approval;
    assert_non_null (a);
    assert_string_equal (a->approved_by, "地方公共団体情報システム機構理事長");
    assert_string_equal (a->approved_on, "2027-02-15");
    assert_string_equal (a->reference, "地情機第42号");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    rf_ok (s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "理事長承認済み"));
    s_assert_status (id, "qualified");
}

//  The President's approval of a provider as a viewer reads it: "on by ref"
static char *
s_approval_of (uint64_t provider)
{
    lg_reply_t *reply = rf_provider_get ("viewer", provider);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__PresidentApproval *a = reply->provider->provider->president_approval;
    char *text = a? zsys_sprintf ("%s by %s", a->approved_on, a->reference): strdup ("-");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return text;
}

//  An approval refused FAILED_PRECONDITION R3.2 changes nothing
static void
s_assert_approval_refused (uint64_t provider, const char *expected, const char *status)
{
    long versions = rf_count ("versions");
    lg_reply_t *reply = s_approval (provider, "2027-02-27");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R3.2");
    assert_non_null (strstr (reply->status->message, status));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("versions"), versions);
    char *approval = s_approval_of (provider);
    assert_string_equal (approval, expected);
    free (approval);
}

/* REQ R3.2: the President's approval is what qualification is decided on:
   it is recorded (and corrected) while the provider is applied or under
   review, and not once qualification is decided. Before, only the entity
   type was checked: the approval of a qualified provider was rewritten to a
   date after its qualification, and that of a cancelled one too, a version
   each and no ProviderChanged. */
static void
test_r3_2_approval_not_rewritten_once_decided (void **state)
{
    (void) state;
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "自治体クラウド研究会";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    uint64_t qualified = rf_apply (&apply);
    rf_ok (s_approval (qualified, "2027-02-15"));
    rf_ok (s_review ("reviewer", qualified));
    rf_ok (s_approval (qualified, "2027-02-16"));                //  corrected under review
    rf_ok (s_decide ("reviewer", qualified, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "承認済み"));
    s_assert_approval_refused (qualified, "2027-02-16 by 地情機第42号", "qualified");

    apply.name_ja = (char *) "不適格研究会";
    uint64_t rejected = rf_apply (&apply);
    rf_ok (s_review ("reviewer", rejected));
    rf_ok (s_decide ("reviewer", rejected, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "不適格"));
    s_assert_approval_refused (rejected, "-", "rejected");

    //  The qualified one withdraws (an application, approved for today)
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    cancel.subject = (char *) "provider";
    cancel.id = qualified;
    cancel.cancel = true;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = reply->change->change->id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "撤退を承認";
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide));
    s_assert_status (qualified, "cancelled");
    s_assert_approval_refused (qualified, "2027-02-16 by 地情機第42号", "cancelled");
}

/* REQ R3.3: every data centre is in Japan, also after a change */
static void
test_r3_3_data_centres (void **state)
{
    (void) state;
    long providers = rf_count ("providers");
    long centres = rf_count ("data_centres");
    rf_refused (s_apply_with_centre ("US", "13"), RF_CODE (FAILED_PRECONDITION), "R3.3");
    rf_refused (s_apply_with_centre ("JP", "48"), RF_CODE (INVALID_ARGUMENT), "R3.3");
    rf_refused (s_apply_with_centre ("JP", "00"), RF_CODE (INVALID_ARGUMENT), "R3.3");
    assert_int_equal (rf_count ("providers"), providers);
    assert_int_equal (rf_count ("data_centres"), centres);

    lg_reply_t *reply = s_apply_with_centre ("JP", "13");
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Provider *p = reply->provider->provider;
    uint64_t id = p->id;
    assert_int_equal (p->n_data_centres, 1);
    assert_string_equal (p->data_centres [0]->country, "JP");
    assert_string_equal (p->data_centres [0]->prefecture, "13");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("data_centres"), centres + 1);

    //  The same rule when the data centres are changed
    long changes = rf_count ("changes");
    rf_refused (s_change_centres (id, "SG", "13"), RF_CODE (FAILED_PRECONDITION), "R3.3");
    rf_refused (s_change_centres (id, "JP", "48"), RF_CODE (INVALID_ARGUMENT), "R3.3");
    assert_int_equal (rf_count ("changes"), changes);
    reply = s_change_centres (id, "JP", "27");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "pending");
    uint64_t change = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("changes"), changes + 1);

    //  Approved, the new list replaces the old one
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "移転を承認";
    rf_ok (rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide));
    reply = rf_provider_get ("viewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    p = reply->provider->provider;
    assert_int_equal (p->n_data_centres, 1);
    assert_string_equal (p->data_centres [0]->name, "移転先センター");
    assert_string_equal (p->data_centres [0]->country, "JP");
    assert_string_equal (p->data_centres [0]->prefecture, "27");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("data_centres"), centres + 1);
}

/* REQ R4.3: applied -> under_review -> qualified or rejected, by a reviewer,
   the decision with reviewer, time, outcome and reason */
/* REQ R4.1: the qualification review application comes first */
static void
test_r4_3_qualification_review (void **state)
{
    (void) state;
    uint64_t id = rf_applied_provider ("審査テスト株式会社");
    long decisions = rf_count ("decisions");
    long decided = rf_events (LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED);

    //  Not under review yet
    rf_refused (s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "早すぎる"),
                RF_CODE (FAILED_PRECONDITION), "R4.3");
    rf_refused (s_review ("operator", id), RF_CODE (PERMISSION_DENIED), "X.3");
    s_assert_status (id, "applied");
    lg_reply_t *reply = s_review ("reviewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->provider->provider->status, "under_review");
    assert_null (reply->provider->provider->decision);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_review ("reviewer", id), RF_CODE (FAILED_PRECONDITION), "R4.3");

    //  Only a reviewer decides, with an outcome
    rf_refused (s_decide ("operator", id, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "適格"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_UNSPECIFIED, "適格"),
                RF_CODE (INVALID_ARGUMENT), "R4.3");
    s_assert_status (id, "under_review");
    assert_int_equal (rf_count ("decisions"), decisions);

    reply = s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "書類審査の結果、適格");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->provider->provider->status, "qualified");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = rf_provider_get ("viewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Decision *d = reply->provider->provider->decision;
    assert_non_null (d);
    assert_int_equal (d->outcome, LGWAN__V1__OUTCOME__OUTCOME_APPROVED);
    assert_string_equal (d->reviewer, "reviewer:rita");
    assert_string_equal (d->decided_at, RF_NOW_TEXT);
    assert_string_equal (d->reason, "書類審査の結果、適格");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("decisions"), decisions + 1);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED), decided + 1);
    //  Decided once: not again
    rf_refused (s_decide ("reviewer", id, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "再審査"),
                RF_CODE (FAILED_PRECONDITION), "R4.3");

    //  Rejected, with its reason
    uint64_t other = rf_applied_provider ("不適格株式会社");
    rf_ok (s_review ("reviewer", other));
    rf_ok (s_decide ("reviewer", other, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "書類不備"));
    reply = rf_provider_get ("viewer", other);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->provider->provider->status, "rejected");
    d = reply->provider->provider->decision;
    assert_non_null (d);
    assert_int_equal (d->outcome, LGWAN__V1__OUTCOME__OUTCOME_REJECTED);
    assert_string_equal (d->reviewer, "reviewer:rita");
    assert_string_equal (d->decided_at, RF_NOW_TEXT);
    assert_string_equal (d->reason, "書類不備");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_decide ("reviewer", other, LGWAN__V1__OUTCOME__OUTCOME_APPROVED, "再審査"),
                RF_CODE (FAILED_PRECONDITION), "R4.3");
}

/* REQ R12.1: a service's name is the label of the domain names the
   operating body gives its connections, so a name is one service's: a second
   registration under it is ALREADY_EXISTS naming R12.1, and adds nothing.
   Before, the unique key's refusal named no rule ("already exists
   (services_name_key)") */
static void
test_r12_1_service_name_is_one_services (void **state)
{
    (void) state;
    rf_holders_t h;
    rf_holders (&h, 1, 2);
    char name [32];
    rf_service_name (name, sizeof name);
    rf_ok (rf_service_register (name, "電子申請サービス", h.list, 2));
    long services = rf_count ("services");
    long holders = rf_count ("service_holders");
    long versions = rf_count ("versions");
    lg_reply_t *reply = rf_service_register (name, "同名の別サービス", h.list, 2);
    rf_expect (reply, RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_non_null (strstr (reply->status->message, name));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("services"), services);
    assert_int_equal (rf_count ("service_holders"), holders);
    assert_int_equal (rf_count ("versions"), versions);
}

//  The id of a registration filed as operator under name (it must be OK)
static uint64_t
s_service_named (const char *name, uint64_t content, uint64_t hosting)
{
    rf_holders_t h;
    rf_holders (&h, content, hosting);
    lg_reply_t *reply = rf_service_register (name, "電子申請サービス", h.list, 2);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->service->service->name, name);
    uint64_t id = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

/* REQ R12.1: a service's name is one service's among those not rejected: a
   rejected registration never had a connection nor a domain, and its
   provider applies again under the same name (as a rejected provider applies
   again under its corporate number, R3.1). A name applied for, registered
   or cancelled (its connections' domain names were given out) stays taken,
   ALREADY_EXISTS R12.1, adding nothing. Before, the name was UNIQUE over
   every service there ever was: once rejected, never again */
static void
test_r12_1_rejected_service_name_may_apply_again (void **state)
{
    (void) state;
    char name [32];
    rf_service_name (name, sizeof name);
    uint64_t first = s_service_named (name, 1, 2);
    Lgwan__V1__ServiceReview review = LGWAN__V1__SERVICE_REVIEW__INIT;
    review.service = first;
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_REVIEW), &review));
    Lgwan__V1__ServiceDecide decide = LGWAN__V1__SERVICE_DECIDE__INIT;
    decide.service = first;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_REJECTED;
    decide.reason = (char *) "役割分担の記載が不十分";
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_DECIDE), &decide));

    //  Rejected: the same name is filed again, and registered
    uint64_t again = s_service_named (name, 1, 2);
    assert_true (again != first);
    long services = rf_count ("services");
    //  While it is applied for, it is that service's name
    rf_holders_t h;
    rf_holders (&h, 1, 2);
    lg_reply_t *reply = rf_service_register (name, "同名の別サービス", h.list, 2);
    rf_expect (reply, RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_non_null (strstr (reply->status->message, name));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_service_approve (again);

    //  Cancelled: its name stays its own
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    cancel.subject = (char *) "service";
    cancel.id = again;
    cancel.cancel = true;
    reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    long versions = rf_count ("versions");
    reply = rf_service_register (name, "同名の別サービス", h.list, 2);
    rf_expect (reply, RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_non_null (strstr (reply->status->message, name));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("services"), services);
    assert_int_equal (rf_count ("versions"), versions);
}

/* REQ R9.1 R9.2 R10.1 R12.1 R13.1 R4.1: a service's role holders */
static void
test_r9_service_registration (void **state)
{
    (void) state;
    uint64_t facility = rf_qualified_provider ("ファシリティ株式会社");
    uint64_t telecom = rf_qualified_provider ("通信株式会社");
    uint64_t applied = rf_applied_provider ("審査前株式会社");
    long services = rf_count ("services");
    long holders = rf_count ("service_holders");

    //  A full valid registration: 1 content, 1 hosting, facility, telecom
    Lgwan__V1__RoleHolder valid [] = {
        s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
        s_holder (facility, FACILITY, NULL), s_holder (telecom, TELECOM, "A-19-12345") };
    lg_reply_t *reply = s_register (valid, 4);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Service *s = reply->service->service;
    uint64_t service = s->id;
    assert_string_equal (s->status, "applied");
    assert_string_equal (s->title_ja, "住民向け電子申請");
    assert_int_equal (s->n_holders, 4);
    for (size_t i = 0; i < s->n_holders; i++)
        if (s->holders [i]->role == TELECOM) {
            assert_int_equal (s->holders [i]->provider, telecom);
            assert_string_equal (s->holders [i]->carrier_number, "A-19-12345");
        }
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("services"), services + 1);
    assert_int_equal (rf_count ("service_holders"), holders + 4);
    services++;
    holders += 4;

    struct {
        Lgwan__V1__RoleHolder holder [4];
        size_t n;
        lg_code_t code;
        const char *requirement;
    } cases [] = {
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (facility, HOSTING, NULL) }, 3, RF_CODE (FAILED_PRECONDITION), "R9.2" },
        { { s_holder (1, CONTENT, NULL), s_holder (facility, FACILITY, NULL) }, 2,
          RF_CODE (FAILED_PRECONDITION), "R9.2" },
        { { s_holder (2, HOSTING, NULL), s_holder (facility, FACILITY, NULL) }, 2,
          RF_CODE (FAILED_PRECONDITION), "R10.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (telecom, TELECOM, NULL) }, 3, RF_CODE (FAILED_PRECONDITION), "R13.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (facility, NETWORK, NULL) }, 3, RF_CODE (FAILED_PRECONDITION), "R12.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (applied, FACILITY, NULL) }, 3, RF_CODE (FAILED_PRECONDITION), "R4.1" },
        { { s_holder (applied, CONTENT, NULL), s_holder (2, HOSTING, NULL) }, 2,
          RF_CODE (FAILED_PRECONDITION), "R4.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (facility, LGWAN__V1__SERVICE_ROLE__SERVICE_ROLE_UNSPECIFIED, NULL) }, 3,
          RF_CODE (INVALID_ARGUMENT), "R9.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
            s_holder (1, CONTENT, NULL) }, 3, RF_CODE (INVALID_ARGUMENT), "R9.1" },
        { { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, "A-19-12345") }, 2,
          RF_CODE (INVALID_ARGUMENT), "R13.1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        reply = s_register (cases [i].holder, cases [i].n);
        if (reply->status->code != cases [i].code
        ||  !streq (reply->status->requirement, cases [i].requirement))
            fail_msg ("case %zu: expected %d %s, got %d %s: %s", i, cases [i].code,
                      cases [i].requirement, reply->status->code, reply->status->requirement,
                      reply->status->message);
        rf_refused (reply, cases [i].code, cases [i].requirement);
    }
    assert_int_equal (rf_count ("services"), services);
    assert_int_equal (rf_count ("service_holders"), holders);

    //  The operating body holds the network layer; there is only one
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body ("地方公共団体情報システム機構", number);
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__SPECIAL_CORPORATION;
    apply.operating_body = true;
    uint64_t operating_body = rf_apply (&apply);
    long providers = rf_count ("providers");
    Lgwan__V1__ProviderApply second = rf_apply_body ("第二機構", number);
    second.entity_type = LGWAN__V1__ENTITY_TYPE__SPECIAL_CORPORATION;
    second.operating_body = true;
    rf_refused (rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &second),
                RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_int_equal (rf_count ("providers"), providers);
    rf_qualify (operating_body);
    Lgwan__V1__RoleHolder network [] = {
        s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL),
        s_holder (operating_body, NETWORK, NULL) };
    reply = s_register (network, 3);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->service->service->n_holders, 3);
    uint64_t rejected = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  A provider files only a service it hosts
    Lgwan__V1__RoleHolder hosted [] = { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL) };
    Lgwan__V1__RoleHolder *hosted_p [] = { &hosted [0], &hosted [1] };
    Lgwan__V1__ServiceRegister by_provider = LGWAN__V1__SERVICE_REGISTER__INIT;
    by_provider.name = (char *) "self-filed";
    by_provider.title_ja = (char *) "自社申請サービス";
    by_provider.holders = hosted_p;
    by_provider.n_holders = 2;
    services = rf_count ("services");
    rf_refused (rf_ask ("provider1", RF_BODY (SERVICE_REGISTER), &by_provider),
                RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_count ("services"), services);
    rf_ok (rf_ask ("provider2", RF_BODY (SERVICE_REGISTER), &by_provider));
    assert_int_equal (rf_count ("services"), services + 1);

    //  Review and decide: registered, and ServiceRegistered published then only
    long registered = rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED);
    Lgwan__V1__ServiceReview review = LGWAN__V1__SERVICE_REVIEW__INIT;
    review.service = service;
    reply = rf_ask ("reviewer", RF_BODY (SERVICE_REVIEW), &review);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->service->service->status, "under_review");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED), registered);
    Lgwan__V1__ServiceDecide decide = LGWAN__V1__SERVICE_DECIDE__INIT;
    decide.service = service;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "登録要件を満たす";
    rf_refused (rf_ask ("operator", RF_BODY (SERVICE_DECIDE), &decide),
                RF_CODE (PERMISSION_DENIED), "X.3");
    reply = rf_ask ("reviewer", RF_BODY (SERVICE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    s = reply->service->service;
    assert_string_equal (s->status, "registered");
    assert_non_null (s->decision);
    assert_string_equal (s->decision->reviewer, "reviewer:rita");
    assert_string_equal (s->decision->decided_at, RF_NOW_TEXT);
    assert_string_equal (s->decision->reason, "登録要件を満たす");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED), registered + 1);

    //  Rejected: a decision, no event
    review.service = rejected;
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_REVIEW), &review));
    decide.service = rejected;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_REJECTED;
    decide.reason = (char *) "書類不備";
    reply = rf_ask ("reviewer", RF_BODY (SERVICE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->service->service->status, "rejected");
    assert_int_equal (reply->service->service->decision->outcome,
                      LGWAN__V1__OUTCOME__OUTCOME_REJECTED);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED), registered + 1);
    char sql [128];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.services WHERE id = %" PRIu64, service);
    char *status = rf_sql_text (sql);
    assert_string_equal (status, "registered");
    free (status);
}

/* REQ R7.1 R7.2: a contract states the responsibility, names a using body of
   the list, covers registered services, and is active only after both
   deliveries */
static void
test_r7_contracts (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    Lgwan__V1__RoleHolder draft [] = { s_holder (1, CONTENT, NULL), s_holder (2, HOSTING, NULL) };
    lg_reply_t *reply = s_register (draft, 2);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t unregistered = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    const char *responsibility = "本サービスの提供及び運用管理の責任は事業者が負う";
    long contracts = rf_count ("contracts");
    long links = rf_count ("contract_services");
    rf_refused (s_contract_create ("provider1", 1, "999997", service, responsibility),
                RF_CODE (FAILED_PRECONDITION), "R7.1");
    rf_refused (s_contract_create ("provider1", 1, "999998", service, responsibility),
                RF_CODE (INVALID_ARGUMENT), "R7.1");
    rf_refused (s_contract_create ("provider1", 1, "131016", service, ""),
                RF_CODE (INVALID_ARGUMENT), "R7.1");
    rf_refused (s_contract_create ("provider1", 1, "131016", unregistered, responsibility),
                RF_CODE (FAILED_PRECONDITION), "R4.1");
    rf_refused (s_contract_create ("provider2", 1, "131016", service, responsibility),
                RF_CODE (NOT_FOUND), "");
    rf_refused (s_contract_create ("viewer", 1, "131016", service, responsibility),
                RF_CODE (PERMISSION_DENIED), "X.3");
    char *ten_kb = (char *) malloc (10 * 1024 + 1);
    memset (ten_kb, 'R', 10 * 1024);
    ten_kb [10 * 1024] = 0;
    rf_refused (s_contract_create ("provider1", 1, "131016", service, ten_kb),
                RF_CODE (INVALID_ARGUMENT), "X.3");
    free (ten_kb);
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("contract_services"), links);

    //  By the provider itself
    reply = s_contract_create ("provider1", 1, "131016", service, responsibility);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Contract *c = reply->contract->contract;
    uint64_t contract = c->id;
    assert_int_equal (c->provider, 1);
    assert_string_equal (c->lgcode, "131016");
    assert_string_equal (c->using_body, "千代田区");
    assert_string_equal (c->responsibility, responsibility);
    assert_int_equal (c->n_services, 1);
    assert_int_equal (c->services [0], service);
    assert_string_equal (c->status, "draft");
    assert_string_equal (c->terms_delivered_on, "");
    assert_string_equal (c->manual_delivered_on, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  No delivery, then one of two: still a draft
    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-02-30"),
                RF_CODE (INVALID_ARGUMENT), "R7.2");
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_UNSPECIFIED, "2027-02-20"),
                RF_CODE (INVALID_ARGUMENT), "R7.2");
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-02-20"));
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);
    char sql [128];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.contracts WHERE id = %" PRIu64,
              contract);
    char *status = rf_sql_text (sql);
    assert_string_equal (status, "draft");
    free (status);

    //  Both: active, and ContractActivated
    reply = rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-02-21");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->contract->contract->terms_delivered_on, "2027-02-20");
    assert_string_equal (reply->contract->contract->manual_delivered_on, "2027-02-21");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = rf_activate ("provider1", contract);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->contract->contract->status, "active");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated + 1);
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    //  Its deliveries are what it was activated on: recorded again, refused
    //  (a delivery "on 1900-01-01" of an active contract was taken)
    long versions = rf_count ("versions");
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "1900-01-01"),
                RF_CODE (FAILED_PRECONDITION), "R7.2");
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.contracts WHERE id = %" PRIu64
                                    " AND terms_delivered_on = '2027-02-20'", contract), 1);

    //  An operator files one too; it stays a draft
    uint64_t other = rf_contract ("operator", 1, "130001", service);

    reply = rf_contracts_of ("provider1", 1, true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 1);
    assert_int_equal (reply->contracts->contracts [0]->id, contract);
    assert_string_equal (reply->contracts->contracts [0]->status, "active");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = rf_contracts_of ("viewer", 1, false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->contracts->n_contracts, 2);
    assert_int_equal (reply->contracts->contracts [0]->id, contract);
    assert_int_equal (reply->contracts->contracts [1]->id, other);
    assert_string_equal (reply->contracts->contracts [1]->status, "draft");
    assert_string_equal (reply->contracts->contracts [1]->using_body, "東京都");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R4.1: a contract is activated only while every service it covers is
   registered, as its provider must still be qualified */
static void
test_r4_1_activation_needs_registered_service (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_contract ("provider1", 1, "131059", service);
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-02-20"));
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-02-20"));

    //  The service is cancelled (a notification, effective today)
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    cancel.subject = (char *) "service";
    cancel.id = service;
    cancel.cancel = true;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);
    char sql [128];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.contracts WHERE id = %" PRIu64,
              contract);
    char *status = rf_sql_text (sql);
    assert_string_equal (status, "draft");
    free (status);
}

//  The state of a contract as admin reads it: status, deliveries, version
static char *
s_contract_row (uint64_t contract)
{
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT status || ' ' || coalesce (terms_delivered_on::text, '-')"
                               " || ' ' || coalesce (manual_delivered_on::text, '-') || ' v'"
                               " || version FROM registry.contracts WHERE id = %" PRIu64, contract);
    char *row = rf_sql_text (sql);
    assert_non_null (row);
    return row;
}

/* REQ R7.2: a delivery is recorded once it happened: a date after today
   (Asia/Tokyo) is refused and changes nothing, so a contract cannot go
   active before its documents are delivered. Before, any real date was
   taken, and a contract with both deliveries dated next month was active */
static void
test_r7_2_delivery_not_after_today (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_contract ("provider1", 1, "131041", service);
    char *before = s_contract_row (contract);
    assert_string_equal (before, "draft - - v1");
    long versions = rf_count ("versions");
    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);

    //  RF_TODAY is 2027-03-01 in Tokyo (09:00)
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-03-02"),
                RF_CODE (INVALID_ARGUMENT), "R7.2");
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-04-01"),
                RF_CODE (INVALID_ARGUMENT), "R7.2");
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    char *after = s_contract_row (contract);
    assert_string_equal (after, before);
    free (after);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);

    //  Today is taken; tomorrow is refused again
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, RF_TODAY));
    rf_refused (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-03-02"),
                RF_CODE (INVALID_ARGUMENT), "R7.2");
    rf_refused (rf_activate ("provider1", contract), RF_CODE (FAILED_PRECONDITION), "R7.2");
    after = s_contract_row (contract);
    assert_string_equal (after, "draft 2027-03-01 - v2");
    free (after);

    //  At 15:00 UTC it is 2027-03-02 in Tokyo: that day is today
    rf_set_clock ("2027-03-01T15:00:00Z");
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-03-02"));
    rf_ok (rf_activate ("provider1", contract));
    after = s_contract_row (contract);
    assert_string_equal (after, "active 2027-03-01 2027-03-02 v4");
    free (after);
    free (before);
}

//  A ContractActivate sent from a thread of its own (no cmocka assertion
//  there); the reply, NULL when none came, and when it came
typedef struct {
    uint64_t contract;
    lg_reply_t *reply;
    int64_t replied_at;
} s_activation_t;

static void *
s_activate_thread (void *arg)
{
    s_activation_t *a = (s_activation_t *) arg;
    lg_client_t *client = lg_test_proc_client (&rf.registry, rf.certs, "provider1");
    if (!client)
        return NULL;
    lg_client_set_timeout (client, 8000, 1);
    Lgwan__V1__ContractActivate body = LGWAN__V1__CONTRACT_ACTIVATE__INIT;
    body.contract = a->contract;
    a->reply = lg_test_call (client, RF_BODY (CONTRACT_ACTIVATE), &body, "system test");
    a->replied_at = zclock_mono ();
    lg_client_destroy (&client);
    return NULL;
}

//  ContractActivate of a delivered contract while a session holds a
//  cancellation written and not committed (cancel: its statements, after
//  BEGIN): the activation is sent, must wait for a lock (one session of the
//  registry waiting, lg_test_wait_lock_waiters), and the session commits
//  200 ms after. The activation's reply (caller frees), which must
//  have come after the COMMIT
static lg_reply_t *
s_activate_during (uint64_t contract, const char *cancel)
{
    //  No session of the registry waits for a lock before
    assert_int_equal (lg_test_wait_lock_waiters (rf.admin, "registry", 0, 0), 0);

    PGconn *holder = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; %s", cancel);
    PGresult *res = PQexec (holder, sql);
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    zstr_free (&sql);

    s_activation_t call = { .contract = contract };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_activate_thread, &call), 0);
    //  The activation waits on the locked row (1.5 s at most)
    long waiters = lg_test_wait_lock_waiters (rf.admin, "registry", 1, 1500);
    zclock_sleep (200);
    int64_t committed = zclock_mono ();
    res = PQexec (holder, "COMMIT");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (holder);
    pthread_join (thread, NULL);

    assert_non_null (call.reply);
    assert_int_equal (waiters, 1);
    assert_true (call.replied_at >= committed);
    return call.reply;
}

/* REQ R4.1: a contract is not activated for a service whose cancellation is
   being written: activation share-locks the services it covers, so it waits
   for the cancellation's COMMIT and sees the service cancelled. Here the
   cancellation is a session that holds the service row's update open;
   the activation is sent, waits on the lock, and the session commits.
   Before, activation read the services without a lock, saw the service
   still registered and activated a contract of a cancelled service */
static void
test_r4_1_activation_waits_for_a_service_cancellation (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (1, 2);
    uint64_t contract = rf_contract ("provider1", 1, "131032", service);
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-02-20"));
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-02-20"));
    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);
    char *cancel = zsys_sprintf ("UPDATE registry.services SET status = 'cancelled',"
                                 " version = version + 1 WHERE id = %" PRIu64, service);
    lg_reply_t *reply = s_activate_during (contract, cancel);
    zstr_free (&cancel);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.1");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);
    char *row = s_contract_row (contract);
    assert_string_equal (row, "draft 2027-02-20 2027-02-20 v3");
    free (row);
}

/* REQ R4.1: nor for a service whose hosting provider's cancellation is being
   written: activation share-locks the hosting providers too, after the
   services, so it waits for that COMMIT and sees the provider cancelled.
   The session locks the provider row as a cancellation does (FOR UPDATE)
   and writes its status. Before, the hosting provider was read unlocked:
   the activation answered OK at once, the contract active and
   ContractActivated published for a service whose hosting provider was
   cancelled */
static void
test_r4_1_activation_waits_for_a_hosting_providers_cancellation (void **state)
{
    (void) state;
    uint64_t host = rf_qualified_provider ("取消中ホスティング株式会社");
    uint64_t service = rf_registered_service (1, host);
    uint64_t contract = rf_contract ("provider1", 1, "131024", service);
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, "2027-02-20"));
    rf_ok (rf_deliver (contract, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, "2027-02-20"));
    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);
    char *cancel = zsys_sprintf ("SELECT 1 FROM registry.providers WHERE id = %" PRIu64
                                 " FOR UPDATE; UPDATE registry.providers SET status = 'cancelled',"
                                 " version = version + 1 WHERE id = %" PRIu64, host, host);
    lg_reply_t *reply = s_activate_during (contract, cancel);
    zstr_free (&cancel);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.1");
    //  Provider 1 activates: told the host is not qualified, not its state
    //  (X.3, test_x3_r4_1_refusal_tells_a_provider_no_other_providers_state)
    assert_non_null (strstr (reply->status->message, "is not qualified"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);
    char *row = s_contract_row (contract);
    assert_string_equal (row, "draft 2027-02-20 2027-02-20 v3");
    free (row);
}

typedef struct {
    const char *who;
    uint64_t provider;                  //  0: any
    uint32_t limit;
    uint64_t last;                      //  the last listed
} s_interconnections_t;

//  One page of InterconnectionList (lg_test_pages)
static uint64_t
s_interconnection_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_interconnections_t *l = (s_interconnections_t *) arg;
    Lgwan__V1__InterconnectionList q = LGWAN__V1__INTERCONNECTION_LIST__INIT;
    q.provider = l->provider;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = rf_ask (l->who, RF_BODY (INTERCONNECTION_LIST), &q);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__InterconnectionListReply *page = reply->interconnection_list;
    for (size_t i = 0; i < page->n_interconnections; i++) {
        const Lgwan__V1__Interconnection *c = page->interconnections [i];
        assert_true (c->id > l->last);
        *last_id = l->last = c->id;
        assert_true (*c->justification);
        if (l->provider)
            assert_true (c->provider_a == l->provider || c->provider_b == l->provider);
    }
    *items = page->n_interconnections;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

static long
s_interconnection_pages (const char *who, uint64_t provider, uint32_t limit)
{
    s_interconnections_t list = { who, provider, limit, 0 };
    return lg_test_pages (s_interconnection_page, &list);
}

/* REQ R8.1 R8.2: an interconnection is a registered fact with its
   justification, and nobody approves it */
static void
test_r8_interconnections (void **state)
{
    (void) state;
    uint64_t applied = rf_applied_provider ("未審査株式会社");
    long interconnections = rf_count ("interconnections");
    long changes = rf_count ("changes");
    long decisions = rf_count ("decisions");
    long registered = rf_events (LGWAN__V1__EVENT__BODY_INTERCONNECTION_REGISTERED);

    rf_refused (s_interconnect ("operator", 1, 2, ""), RF_CODE (INVALID_ARGUMENT), "R8.1");
    rf_refused (s_interconnect ("operator", 1, 1, "自己接続"), RF_CODE (INVALID_ARGUMENT), "R8.1");
    rf_refused (s_interconnect ("operator", 1, applied, "住民サービスの連携"),
                RF_CODE (FAILED_PRECONDITION), "R8.1");
    rf_refused (s_interconnect ("viewer", 1, 2, "住民サービスの連携"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_count ("interconnections"), interconnections);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_INTERCONNECTION_REGISTERED), registered);

    const char *why = "地方公共団体の行政事務の効率化に資する共同利用のため";
    lg_reply_t *reply = s_interconnect ("provider1", 1, 2, why);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Interconnection *i = reply->interconnection->interconnection;
    uint64_t id = i->id;
    assert_int_equal (i->provider_a, 1);
    assert_int_equal (i->provider_b, 2);
    assert_string_equal (i->justification, why);
    assert_string_equal (i->status, "registered");
    assert_string_equal (i->created_at, RF_NOW_TEXT);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Registered at once: no change, no decision waits for anybody
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.interconnections WHERE id = %" PRIu64,
              id);
    char *status = rf_sql_text (sql);
    assert_string_equal (status, "registered");
    free (status);
    assert_int_equal (rf_count ("interconnections"), interconnections + 1);
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("decisions"), decisions);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_INTERCONNECTION_REGISTERED),
                      registered + 1);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.versions"
                               " WHERE subject = 'interconnection' AND subject_id = %" PRIu64, id);
    assert_int_equal (rf_sql_long (sql), 1);

    //  The same pair again, either way round: one registered interconnection
    rf_refused (s_interconnect ("operator", 2, 1, why), RF_CODE (ALREADY_EXISTS), "R8.1");
    assert_int_equal (rf_count ("interconnections"), interconnections + 1);

    //  Read back page by page; a provider reads those it is a side of
    uint64_t third = rf_qualified_provider ("相互接続第三者株式会社");
    rf_ok (s_interconnect ("operator", 1, third, why));
    long total = rf_count ("interconnections");
    assert_int_equal (s_interconnection_pages ("viewer", 0, 1), total);
    assert_int_equal (s_interconnection_pages ("viewer", 0, 0), total);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.interconnections"
                               " WHERE %" PRIu64 " IN (provider_a, provider_b)", third);
    assert_int_equal (s_interconnection_pages ("operator", third, 1), rf_sql_long (sql));
    assert_int_equal (s_interconnection_pages ("provider2", 0, 0),
                      rf_sql_long ("SELECT count(*) FROM registry.interconnections"
                                   " WHERE 2 IN (provider_a, provider_b)"));
    Lgwan__V1__InterconnectionList q = LGWAN__V1__INTERCONNECTION_LIST__INIT;
    q.provider = third;
    rf_refused (rf_ask ("provider2", RF_BODY (INTERCONNECTION_LIST), &q),
                RF_CODE (PERMISSION_DENIED), "X.3");
    q.provider = 0;
    q.limit = 501;
    rf_refused (rf_ask ("viewer", RF_BODY (INTERCONNECTION_LIST), &q), RF_CODE (INVALID_ARGUMENT),
                "X.3");
}

/* REQ R8.2: the operating body takes no part in interconnections: as either
   side it is refused FAILED_PRECONDITION R8.2 and nothing is registered.
   Runs after test_r9_service_registration, which qualified it. Before, it
   was registered like any provider */
static void
test_r8_2_operating_body_is_no_side_of_an_interconnection (void **state)
{
    (void) state;
    uint64_t body = rf_sql_long ("SELECT id FROM registry.providers WHERE operating_body"
                                 " AND status = 'qualified'");
    long interconnections = rf_count ("interconnections");
    long events = rf_count ("outbox");
    char message [160];
    snprintf (message, sizeof message, "provider %" PRIu64 " is the operating body, which takes"
              " no part in interconnections between providers", body);
    lg_reply_t *reply = s_interconnect ("provider2", 2, body, "機構との相互接続");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R8.2");
    assert_string_equal (reply->status->message, message);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_interconnect ("operator", body, 1, "機構との相互接続"),
                RF_CODE (FAILED_PRECONDITION), "R8.2");
    assert_int_equal (rf_count ("interconnections"), interconnections);
    assert_int_equal (rf_count ("outbox"), events);
}

/* REQ R8.2: a prefecture, which manages its prefectural node, takes no part
   in interconnections either: a qualified local government whose code the
   reference list names a prefecture (静岡県, 220001) is refused as either
   side, FAILED_PRECONDITION R8.2 naming it, and nothing is registered; a
   municipality of that prefecture (静岡市, 221007) is a side like any
   provider. Before, the prefecture's was registered */
static void
test_r8_2_prefecture_is_no_side_of_an_interconnection (void **state)
{
    (void) state;
    uint64_t prefecture = s_applied_local_government ("220001");
    rf_qualify (prefecture);
    uint64_t city = s_applied_local_government ("221007");
    rf_qualify (city);

    long interconnections = rf_count ("interconnections");
    long events = rf_count ("outbox");
    char message [200];
    snprintf (message, sizeof message, "provider %" PRIu64 " is a prefecture (静岡県), which"
              " manages its prefectural node and takes no part in interconnections between"
              " providers", prefecture);
    lg_reply_t *reply = s_interconnect ("operator", prefecture, 2, "県との相互接続");
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R8.2");
    assert_string_equal (reply->status->message, message);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_interconnect ("operator", 2, prefecture, "県との相互接続"),
                RF_CODE (FAILED_PRECONDITION), "R8.2");
    assert_int_equal (rf_count ("interconnections"), interconnections);
    assert_int_equal (rf_count ("outbox"), events);
    rf_ok (s_interconnect ("operator", city, 2, "市との相互接続"));
    assert_int_equal (rf_count ("interconnections"), interconnections + 1);
}

/* REQ R3.1: a rejected applicant may apply again under its corporate number;
   a live record keeps the number to itself */
static void
test_r3_1_reapply_after_rejection (void **state)
{
    (void) state;
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body ("再申請株式会社", number);
    uint64_t first = rf_apply (&apply);
    rf_refused (rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply),
                RF_CODE (ALREADY_EXISTS), "R3.1");
    rf_ok (s_review ("reviewer", first));
    rf_ok (s_decide ("reviewer", first, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "書類不備"));
    uint64_t second = rf_apply (&apply);
    assert_true (second > first);
    rf_refused (rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply),
                RF_CODE (ALREADY_EXISTS), "R3.1");
}

/* REQ R3.1: a local government is one provider: a second live application
   with its code is ALREADY_EXISTS R3.1 and adds nothing; once the first is
   rejected the code may apply again. Before, two providers of one local
   government (no corporate number given) were both applied and qualified */
static void
test_r3_1_one_provider_per_local_government (void **state)
{
    (void) state;
    uint64_t first = s_applied_local_government ("131059");
    long providers = rf_count ("providers");
    long versions = rf_count ("versions");
    lg_reply_t *reply = s_apply_local_government ("131059");
    rf_expect (reply, RF_CODE (ALREADY_EXISTS), "R3.1");
    assert_string_equal (reply->status->message, "local government 131059 is already a provider");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("providers"), providers);
    assert_int_equal (rf_count ("versions"), versions);
    //  Qualified, still one
    rf_qualify (first);
    rf_refused (s_apply_local_government ("131059"), RF_CODE (ALREADY_EXISTS), "R3.1");
    //  Another code is another local government
    rf_ok (s_apply_local_government ("131067"));

    //  A rejected one leaves the code free
    reply = s_apply_local_government ("131075");
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t rejected = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_review ("reviewer", rejected));
    rf_ok (s_decide ("reviewer", rejected, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "重複申請"));
    rf_ok (s_apply_local_government ("131075"));
}

//  The operating body's application as operator (caller frees)
static lg_reply_t *
s_apply_operating_body (const char *name)
{
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body (name, number);
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__SPECIAL_CORPORATION;
    apply.operating_body = true;
    return rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply);
}

static uint64_t
s_operating_body_applied (const char *name)
{
    return s_applied_id (s_apply_operating_body (name));
}

/* REQ R12.1: the operating body is one live provider: a rejected or
   cancelled application of it does not keep a later one out. Before, the
   unique index covered every row: after one rejected application, every
   later one was ALREADY_EXISTS R12.1 for good. Runs before
   test_r9_service_registration, and leaves no live operating body */
static void
test_r12_1_operating_body_again_after_rejection_or_cancellation (void **state)
{
    (void) state;
    uint64_t first = s_operating_body_applied ("機構（記載誤り）");
    rf_ok (s_review ("reviewer", first));
    rf_ok (s_decide ("reviewer", first, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "記載誤り"));

    //  Rejected: another applies; while that one is live, a third does not
    uint64_t second = s_operating_body_applied ("地方公共団体情報システム機構");
    long providers = rf_count ("providers");
    rf_refused (s_apply_operating_body ("第二機構"), RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_int_equal (rf_count ("providers"), providers);

    //  Cancelled: another applies
    rf_qualify (second);
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    cancel.subject = (char *) "provider";
    cancel.id = second;
    cancel.cancel = true;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = reply->change->change->id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "解散";
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide));
    s_assert_status (second, "cancelled");
    uint64_t third = s_operating_body_applied ("地方公共団体情報システム機構（新）");
    assert_true (third > second);

    //  No live operating body is left for the tests that follow
    rf_ok (s_review ("reviewer", third));
    rf_ok (s_decide ("reviewer", third, LGWAN__V1__OUTCOME__OUTCOME_REJECTED, "試験終了"));
}

/* REQ R4.3: the registrations a reviewer has to decide are listed, by
   status and by role holder, page by page; a provider lists its own */
typedef struct {
    const char *who;
    const char *status;                 //  "": any
    uint64_t provider;                  //  0: any
    uint32_t limit;
    uint64_t last;                      //  the last service listed
} s_services_t;

//  One page of ServiceList (lg_test_pages)
static uint64_t
s_service_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_services_t *l = (s_services_t *) arg;
    Lgwan__V1__ServiceList q = LGWAN__V1__SERVICE_LIST__INIT;
    q.status = (char *) l->status;
    q.provider = l->provider;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = rf_ask (l->who, RF_BODY (SERVICE_LIST), &q);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ServiceListReply *page = reply->service_list;
    assert_true (page->n_services <= (l->limit? l->limit: 50));
    for (size_t i = 0; i < page->n_services; i++) {
        const Lgwan__V1__Service *service = page->services [i];
        assert_true (service->id > l->last);
        *last_id = l->last = service->id;
        assert_true (service->n_holders >= 2);              //  with its holders
        if (*l->status)
            assert_string_equal (service->status, l->status);
        bool holds = l->provider == 0;
        for (size_t h = 0; h < service->n_holders; h++)
            holds |= service->holders [h]->provider == l->provider;
        assert_true (holds);
    }
    *items = page->n_services;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

static long
s_service_pages (const char *who, const char *status, uint64_t provider, uint32_t limit)
{
    s_services_t list = { who, status, provider, limit, 0 };
    return lg_test_pages (s_service_page, &list);
}

static void
test_r4_3_service_list (void **state)
{
    (void) state;
    uint64_t content = rf_qualified_provider ("一覧コンテンツ株式会社");
    uint64_t hosting = rf_qualified_provider ("一覧ホスティング株式会社");
    rf_registered_service (content, hosting);
    rf_registered_service (content, hosting);
    rf_applied_service (content, hosting);                  //  awaiting review

    long total = rf_count ("services");
    assert_true (total >= 3);
    assert_int_equal (s_service_pages ("reviewer", "", 0, 2), total);
    assert_int_equal (s_service_pages ("viewer", "", 0, 0), total);     //  the default page
    assert_int_equal (s_service_pages ("reviewer", "applied", 0, 1),
                      rf_sql_long ("SELECT count(*) FROM registry.services WHERE status = 'applied'"));
    assert_int_equal (s_service_pages ("reviewer", "", hosting, 1), 3);
    //  A provider: its own, and nobody else's
    long own = rf_sql_long ("SELECT count(DISTINCT service_id) FROM registry.service_holders"
                            " WHERE provider_id = 1");
    assert_int_equal (s_service_pages ("provider1", "", 1, 2), own);
    s_services_t mine = { "provider1", "", 0, 0, 0 };
    assert_int_equal (lg_test_pages (s_service_page, &mine), own);
    Lgwan__V1__ServiceList q = LGWAN__V1__SERVICE_LIST__INIT;
    q.provider = hosting;
    rf_refused (rf_ask ("provider1", RF_BODY (SERVICE_LIST), &q),
                RF_CODE (PERMISSION_DENIED), "X.3");
    q.provider = 0;
    q.limit = 501;
    rf_refused (rf_ask ("reviewer", RF_BODY (SERVICE_LIST), &q), RF_CODE (INVALID_ARGUMENT), "X.3");
}

/* REQ R4.3: what waits for a reviewer is one queue, oldest first, with how
   many wait in all; a decision takes an application out of it */

//  The queue of kind ("" all) as reviewer, limit at most; its total
static long
s_queue (const char *kind, uint32_t limit, size_t *shown, bool *has_service, uint64_t service)
{
    Lgwan__V1__ReviewQueue q = LGWAN__V1__REVIEW_QUEUE__INIT;
    q.kind = (char *) kind;
    q.limit = limit;
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (REVIEW_QUEUE), &q);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__ReviewQueueReply *queue = reply->review_queue;
    *shown = queue->n_items;
    *has_service = false;
    for (size_t i = 0; i < queue->n_items; i++) {
        const Lgwan__V1__ReviewItem *item = queue->items [i];
        if (*kind)
            assert_string_equal (item->kind, kind);
        if (i)                                  //  oldest first
            assert_true (strcmp (queue->items [i - 1]->filed_at, item->filed_at) <= 0);
        assert_true (streq (item->status, "applied") || streq (item->status, "under_review")
                 ||  streq (item->status, "pending"));
        *has_service |= streq (item->kind, "service") && item->id == service;
    }
    long total = (long) queue->total;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return total;
}

static void
test_r4_3_review_queue (void **state)
{
    (void) state;
    rf_applied_provider ("審査待ち株式会社");
    uint64_t content = rf_qualified_provider ("審査待ちコンテンツ株式会社");
    uint64_t service = rf_applied_service (content, content);
    long providers = rf_sql_long ("SELECT count(*) FROM registry.providers"
                                  " WHERE status IN ('applied', 'under_review')");
    long services = rf_sql_long ("SELECT count(*) FROM registry.services"
                                 " WHERE status IN ('applied', 'under_review')");
    long connections = rf_sql_long ("SELECT count(*) FROM registry.connections"
                                    " WHERE status IN ('applied', 'under_review')");
    long changes = rf_sql_long ("SELECT count(*) FROM registry.changes"
                                " WHERE kind = 'application' AND status = 'pending'");
    assert_true (providers >= 1 && services >= 1);
    size_t shown;
    bool listed;
    assert_int_equal (s_queue ("", 500, &shown, &listed, service),
                      providers + services + connections + changes);
    assert_int_equal (shown, providers + services + connections + changes);
    assert_true (listed);
    assert_int_equal (s_queue ("provider", 0, &shown, &listed, service), providers);
    assert_int_equal (s_queue ("service", 0, &shown, &listed, service), services);
    assert_int_equal (s_queue ("connection", 0, &shown, &listed, service), connections);
    assert_int_equal (s_queue ("change", 0, &shown, &listed, service), changes);
    //  A page smaller than the queue still says how many wait
    assert_int_equal (s_queue ("", 1, &shown, &listed, service),
                      providers + services + connections + changes);
    assert_int_equal (shown, 1);

    //  Decided: out of the queue
    rf_service_approve (service);
    assert_int_equal (s_queue ("service", 0, &shown, &listed, service), services - 1);
    assert_false (listed);

    //  Readers only; a kind it does not know, or a page too large, is refused
    Lgwan__V1__ReviewQueue q = LGWAN__V1__REVIEW_QUEUE__INIT;
    rf_refused (rf_ask ("provider1", RF_BODY (REVIEW_QUEUE), &q),
                RF_CODE (PERMISSION_DENIED), "X.3");
    q.kind = (char *) "contract";
    rf_refused (rf_ask ("reviewer", RF_BODY (REVIEW_QUEUE), &q), RF_CODE (INVALID_ARGUMENT), "R4.3");
    q.kind = (char *) "";
    q.limit = 501;
    rf_refused (rf_ask ("reviewer", RF_BODY (REVIEW_QUEUE), &q), RF_CODE (INVALID_ARGUMENT), "X.3");
}

//  The provider the whole queue names for one item; 0 when it is not there
static uint64_t
s_queued_provider (const char *kind, uint64_t id)
{
    Lgwan__V1__ReviewQueue q = LGWAN__V1__REVIEW_QUEUE__INIT;
    q.limit = 500;
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (REVIEW_QUEUE), &q);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_true (reply->review_queue->total < 500);
    uint64_t provider = 0;
    for (size_t i = 0; i < reply->review_queue->n_items; i++) {
        const Lgwan__V1__ReviewItem *item = reply->review_queue->items [i];
        if (streq (item->kind, kind) && item->id == id)
            provider = item->provider;
    }
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return provider;
}

//  A change filed as operator; its id, which must be pending
static uint64_t
s_pending_change (Lgwan__V1__ChangeFile *change)
{
    change->kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), change);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "pending");
    uint64_t id = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  A change of a service's two holders (application & content, hosting),
//  filed as operator; its id, pending
static uint64_t
s_pending_holders_change (uint64_t service, uint64_t content, uint64_t hosting)
{
    rf_holders_t h;
    Lgwan__V1__ChangeFile regroup = LGWAN__V1__CHANGE_FILE__INIT;
    regroup.subject = (char *) "service";
    regroup.id = service;
    regroup.service = rf_holders_patch (&h, content, hosting);
    return s_pending_change (&regroup);
}

//  An active connection of a service provider hosts (its contacts, a pool,
//  the application approved); its id
static uint64_t
s_active_connection (uint64_t provider, uint64_t service)
{
    rf_contacts (provider);
    Lgwan__V1__PoolAdd pool = LGWAN__V1__POOL_ADD__INIT;
    pool.name = (char *) "asp-v4-queue";
    pool.prefix = (char *) "198.18.20.0/28";
    rf_ok (rf_ask ("operator", RF_BODY (POOL_ADD), &pool));

    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) "rt-tokyo-01";
    apply.line_carrier = (char *) "NTT東日本 フレッツ光";
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = 30;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CONNECTION_APPLY), &apply);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->connection->connection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ConnectionReview review = LGWAN__V1__CONNECTION_REVIEW__INIT;
    review.connection = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_REVIEW), &review));
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "接続要件を満たす";
    reply = rf_ask ("reviewer", RF_BODY (CONNECTION_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->connection->connection->status, "active");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

/* REQ R4.3: each item of the queue names the provider it concerns, whatever
   the subject of a change application: the provider itself, a service's
   hosting provider, a connection's or a contract's provider. Before, a
   change of a connection named the provider of the contract whose id
   happened to be the connection's (or none) */
static void
test_r4_3_review_queue_names_the_provider (void **state)
{
    (void) state;
    uint64_t hosting = rf_qualified_provider ("回線変更株式会社");
    uint64_t service = rf_registered_service (hosting, hosting);
    uint64_t connection = s_active_connection (hosting, service);
    uint64_t contract = rf_contract ("operator", hosting, "131024", service);
    //  The contract with the connection's id is another provider's
    assert_true (rf_sqlf_long ("SELECT count(*) FROM registry.contracts WHERE id = %" PRIu64
                               " AND provider_id <> %" PRIu64, connection, hosting) == 1);

    Lgwan__V1__ConnectionPatch line = LGWAN__V1__CONNECTION_PATCH__INIT;
    line.bandwidth_class = (char *) "1G";
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.subject = (char *) "connection";
    change.id = connection;
    change.connection = &line;
    uint64_t of_connection = s_pending_change (&change);
    //  A contract's one change, its cancellation, is a notification and is
    //  refused as an application now; one filed so before may still wait
    uint64_t of_contract = rf_change_filed_before ("application", "contract", contract, true,
                                                   "pending", RF_TODAY);
    Lgwan__V1__ProviderPatch name = LGWAN__V1__PROVIDER_PATCH__INIT;
    name.name_ja = (char *) "回線変更ホールディングス株式会社";
    Lgwan__V1__ChangeFile rename = LGWAN__V1__CHANGE_FILE__INIT;
    rename.subject = (char *) "provider";
    rename.id = hosting;
    rename.provider = &name;
    uint64_t of_provider = s_pending_change (&rename);
    uint64_t of_service = s_pending_holders_change (service, 1, hosting);

    assert_int_equal (s_queued_provider ("change", of_connection), hosting);
    assert_int_equal (s_queued_provider ("change", of_contract), hosting);
    assert_int_equal (s_queued_provider ("change", of_provider), hosting);
    assert_int_equal (s_queued_provider ("change", of_service), hosting);
}

//  A change pending, approved by a reviewer: effective
static void
s_change_approved (uint64_t change)
{
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "承認";
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  A draft contract of provider for service with both documents delivered
static uint64_t
s_delivered_contract (uint64_t provider, const char *lgcode, uint64_t service)
{
    uint64_t id = rf_contract ("operator", provider, lgcode, service);
    rf_ok (rf_deliver (id, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, RF_TODAY));
    rf_ok (rf_deliver (id, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, RF_TODAY));
    return id;
}

/* REQ R10.1: a contract covers only services in which its provider holds
   the application & content or the hosting role, and whose hosting
   provider is qualified (R4.1), checked when it is made and again when it
   is activated; a refusal writes nothing. Before, activation asked only
   whether each service was still registered: a draft was activated after a
   change of holders had replaced its provider in the service, or after the
   service's hosting provider was cancelled */
/* REQ R4.1 R7.1 */
static void
test_r10_1_contract_needs_its_provider_in_the_service (void **state)
{
    (void) state;
    const char *responsibility = "本サービスの提供及び運用管理の責任は事業者が負う";
    uint64_t content = rf_qualified_provider ("コンテンツ提供株式会社");
    uint64_t host = rf_qualified_provider ("ホスティング株式会社");
    uint64_t service = rf_registered_service (content, host);
    uint64_t replaced = s_delivered_contract (content, "131016", service);
    uint64_t leaving = rf_qualified_provider ("撤退ホスティング株式会社");
    uint64_t orphaned_service = rf_registered_service (content, leaving);
    uint64_t orphaned = s_delivered_contract (content, "131024", orphaned_service);

    //  Provider 1 takes the application & content role of the first service
    s_change_approved (s_pending_holders_change (service, 1, host));
    //  The second service's hosting provider is cancelled
    Lgwan__V1__ChangeFile end = LGWAN__V1__CHANGE_FILE__INIT;
    end.subject = (char *) "provider";
    end.id = leaving;
    end.cancel = true;
    s_change_approved (s_pending_change (&end));

    long contracts = rf_count ("contracts");
    long versions = rf_count ("versions");
    long activated = rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED);
    lg_reply_t *reply = rf_activate ("operator", replaced);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R10.1");
    assert_non_null (strstr (reply->status->message, "neither as application & content nor as"
                                                     " hosting provider"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_contract_create ("operator", content, "131016", service, responsibility),
                RF_CODE (FAILED_PRECONDITION), "R10.1");
    reply = rf_activate ("operator", orphaned);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_non_null (strstr (reply->status->message, "is cancelled, not qualified"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_contract_create ("operator", content, "131024", orphaned_service,
                                   responsibility), RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED), activated);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.contracts WHERE id IN (%"
                                    PRIu64 ", %" PRIu64 ") AND status = 'draft'", replaced,
                                    orphaned), 2);

    //  The provider that holds the role now makes the contract
    rf_ok (rf_activate ("operator", s_delivered_contract (1, "131016", service)));
}

/* REQ X.3, REQ R10.1: a provider's contract may not cover a service it
   does not provide, and is refused so before the service's state is looked
   at: to a provider holding no role in it, as for a service that does not
   exist (NOT_FOUND, X.3), to staff naming R10.1. Before, R4.1 came first:
   provider 2, covering another provider's service, was told it "is not
   registered" (still under review) */
static void
test_x3_contract_tells_nothing_of_a_service_not_provided (void **state)
{
    (void) state;
    const char *responsibility = "本サービスの提供及び運用管理の責任は事業者が負う";
    uint64_t host = rf_qualified_provider ("審査中サービス株式会社");
    uint64_t pending = rf_applied_service (host, host);
    long contracts = rf_count ("contracts");
    lg_reply_t *reply = s_contract_create ("provider2", 2, "131016", pending, responsibility);
    rf_expect (reply, RF_CODE (NOT_FOUND), "");
    assert_null (strstr (reply->status->message, "registered"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_contract_create ("operator", 2, "131016", pending, responsibility),
                RF_CODE (FAILED_PRECONDITION), "R10.1");
    //  Its own provider is told why
    rf_refused (s_contract_create ("operator", host, "131016", pending, responsibility),
                RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_count ("contracts"), contracts);
}

//  The refusal is FAILED_PRECONDITION naming requirement, its message holds
//  said and not unsaid (NULL: not checked); the reply is freed
static void
s_refused_saying (lg_reply_t *reply, const char *requirement, const char *said,
                  const char *unsaid)
{
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), requirement);
    if (!strstr (reply->status->message, said))
        fail_msg ("\"%s\" does not say \"%s\"", reply->status->message, said);
    if (unsaid && strstr (reply->status->message, unsaid))
        fail_msg ("\"%s\" says \"%s\"", reply->status->message, unsaid);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ X.3: a provider sees only its own state. A refusal for another
   provider that is not qualified (R4.1: the hosting provider of a service a
   contract of the caller covers, a holder the caller names in a
   registration; R8.1: the other side of an interconnection) tells a
   provider caller "is not qualified", not that provider's status; staff
   still read it ("is cancelled, not qualified"). Before, provider 1, an
   application & content holder of a service hosted by another provider,
   was told "hosting provider <id> of service <id> is cancelled, not
   qualified" when it made or activated its contract */
/* REQ R4.1 R8.1 */
static void
test_x3_r4_1_refusal_tells_a_provider_no_other_providers_state (void **state)
{
    (void) state;
    const char *responsibility = "本サービスの提供及び運用管理の責任は事業者が負う";
    uint64_t host = rf_qualified_provider ("解約予定ホスティング株式会社");
    uint64_t applied = rf_applied_provider ("審査待ちコンテンツ株式会社");
    uint64_t service = rf_registered_service (1, host);
    uint64_t draft = s_delivered_contract (1, "131016", service);
    Lgwan__V1__ChangeFile end = LGWAN__V1__CHANGE_FILE__INIT;
    end.subject = (char *) "provider";
    end.id = host;
    end.cancel = true;
    s_change_approved (s_pending_change (&end));
    long contracts = rf_count ("contracts");
    long services = rf_count ("services");
    long interconnections = rf_count ("interconnections");
    long versions = rf_count ("versions");

    //  Provider 1 makes and activates a contract covering the service
    s_refused_saying (s_contract_create ("provider1", 1, "131024", service, responsibility),
                      "R4.1", "is not qualified", "cancelled");
    s_refused_saying (rf_activate ("provider1", draft), "R4.1", "is not qualified", "cancelled");
    //  Provider 1 registers a service it hosts, naming other holders
    Lgwan__V1__RoleHolder content = LGWAN__V1__ROLE_HOLDER__INIT;
    Lgwan__V1__RoleHolder hosting = LGWAN__V1__ROLE_HOLDER__INIT;
    content.role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    hosting.role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    hosting.provider = 1;
    Lgwan__V1__RoleHolder *holders [] = { &content, &hosting };
    Lgwan__V1__ServiceRegister r = LGWAN__V1__SERVICE_REGISTER__INIT;
    char name [32];
    rf_service_name (name, sizeof name);
    r.name = name;
    r.title_ja = (char *) "共同提供サービス";
    r.holders = holders;
    r.n_holders = 2;
    content.provider = host;
    s_refused_saying (rf_ask ("provider1", RF_BODY (SERVICE_REGISTER), &r), "R4.1",
                      "is not qualified", "cancelled");
    content.provider = applied;
    s_refused_saying (rf_ask ("provider1", RF_BODY (SERVICE_REGISTER), &r), "R4.1",
                      "is not qualified", "applied");
    //  Provider 1 registers an interconnection with it
    s_refused_saying (s_interconnect ("provider1", 1, host, "住民情報の連携"), "R8.1",
                      "is not qualified", "cancelled");

    //  Staff are told the state
    s_refused_saying (rf_activate ("operator", draft), "R4.1", "is cancelled, not qualified",
                      NULL);
    s_refused_saying (rf_ask ("operator", RF_BODY (SERVICE_REGISTER), &r), "R4.1",
                      "is applied, not qualified", NULL);
    s_refused_saying (s_interconnect ("operator", 1, host, "住民情報の連携"), "R8.1",
                      "is cancelled, not qualified", NULL);
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("services"), services);
    assert_int_equal (rf_count ("interconnections"), interconnections);
    assert_int_equal (rf_count ("versions"), versions);
}

/* REQ R10.1: a holders change that takes the provider of an active
   contract out of the service (neither application & content nor hosting
   any more) is refused naming the contract, when filed and when decided
   (the contract activated after it was filed). It took effect, and the
   contract stayed active with a provider that no longer answers for the
   service, which ContractsOfProvider went on giving the orchestrator */
static void
test_r10_1_holders_change_keeps_the_providers_of_active_contracts (void **state)
{
    (void) state;
    uint64_t content = rf_qualified_provider ("契約中コンテンツ株式会社");
    uint64_t host = rf_qualified_provider ("契約中ホスティング株式会社");
    uint64_t service = rf_registered_service (content, host);
    uint64_t contract = s_delivered_contract (content, "131016", service);
    //  Filed while the contract is a draft: taken
    uint64_t change = s_pending_holders_change (service, 1, host);
    rf_ok (rf_activate ("operator", contract));
    long versions = rf_count ("versions");
    //  Decided once it is active: refused
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "承認";
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
    char *named = zsys_sprintf ("%" PRIu64, contract);
    if (!strstr (reply->status->message, named))
        fail_msg ("the refusal names no contract %s: %s", named, reply->status->message);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R10.1");
    //  Filed now: refused
    rf_holders_t h;
    Lgwan__V1__ServicePatch *roles = rf_holders_patch (&h, 1, host);
    Lgwan__V1__ChangeFile regroup = LGWAN__V1__CHANGE_FILE__INIT;
    regroup.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    regroup.subject = (char *) "service";
    regroup.id = service;
    regroup.service = roles;
    reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &regroup);
    if (!strstr (reply->status->message, named))
        fail_msg ("the refusal names no contract %s: %s", named, reply->status->message);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R10.1");
    zstr_free (&named);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.service_holders"
                                    " WHERE service_id = %" PRIu64 " AND provider_id = %" PRIu64,
                                    service, content), 1);
    //  Kept as one of two application & content holders: taken
    Lgwan__V1__RoleHolder both [3];
    Lgwan__V1__RoleHolder *list [3] = { &both [0], &both [1], &both [2] };
    for (int i = 0; i < 3; i++)
        lgwan__v1__role_holder__init (&both [i]);
    both [0].provider = content;
    both [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    both [1].provider = 1;
    both [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    both [2].provider = host;
    both [2].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    roles->holders = list;
    roles->n_holders = 3;
    s_change_approved (s_pending_change (&regroup));
}

/* REQ R7.1: a contract names its using body as the reference list does,
   whole: a name of 200 kanji (600 bytes of UTF-8) is stored and answered
   as loaded. Before, it was copied into 512 bytes, cut inside a character,
   and the INSERT failed on the encoding: an error without a requirement
   ID and no contract. Loads the list again (the shipped one and 221384
   with that name): it runs last */
static void
test_r7_1_using_body_of_a_long_name (void **state)
{
    (void) state;
    char name [200 * 3 + 1] = "";
    for (int i = 0; i < 200; i++)
        strcat (name, "村");
    rf_ok (s_load_with ("221384", name));
    uint64_t service = rf_registered_service (1, 1);
    lg_reply_t *reply = s_contract_create ("provider1", 1, "221384", service, "提供と運用の責任");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->contract->contract->using_body, name);
    uint64_t contract = reply->contract->contract->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT octet_length (using_body) FROM registry.contracts"
                                    " WHERE id = %" PRIu64, contract), 600);
}

static int
s_setup (void **state)
{
    (void) state;
    return rf_setup ("regfilings");
}

/* REQ X.3: a list in a request (a contract's services, a service's
   holders, a provider's contacts and data centres) holds at most 256
   entries: INVALID_ARGUMENT naming the list, before anything is locked,
   and nothing is written. Each entry is compared with those before it: a
   provider certificate's ContractCreate of 200,000 services held a worker
   17 s under the provider's lock, and the request was run three times */
static void
test_x3_lists_in_a_request_are_bounded (void **state)
{
    (void) state;
    long contracts = rf_count ("contracts"), services = rf_count ("services"),
         providers = rf_count ("providers");
    size_t n = 257;
    uint64_t *ids = (uint64_t *) calloc (n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids [i] = i + 1;
    Lgwan__V1__ContractCreate c = LGWAN__V1__CONTRACT_CREATE__INIT;
    c.provider = 1;
    c.lgcode = (char *) "131016";
    c.services = ids;
    c.n_services = n;
    c.responsibility = (char *) "サービス提供及び運用管理の責任を負う";
    lg_reply_t *reply = rf_ask ("provider1", RF_BODY (CONTRACT_CREATE), &c);
    assert_non_null (strstr (reply->status->message, "at most 256 services"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    free (ids);

    Lgwan__V1__RoleHolder *holders [257];
    Lgwan__V1__RoleHolder holder [257];
    for (size_t i = 0; i < n; i++) {
        lgwan__v1__role_holder__init (&holder [i]);
        holder [i].provider = i + 1;
        holder [i].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
        holders [i] = &holder [i];
    }
    Lgwan__V1__ServiceRegister reg = LGWAN__V1__SERVICE_REGISTER__INIT;
    reg.name = (char *) "many-holders";
    reg.title_ja = (char *) "保有者の多いサービス";
    reg.holders = holders;
    reg.n_holders = n;
    reply = rf_ask ("operator", RF_BODY (SERVICE_REGISTER), &reg);
    assert_non_null (strstr (reply->status->message, "at most 256 holders"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");

    Lgwan__V1__DataCentre *centres [257];
    Lgwan__V1__DataCentre centre [257];
    char names [257][16];
    for (size_t i = 0; i < n; i++) {
        lgwan__v1__data_centre__init (&centre [i]);
        snprintf (names [i], sizeof names [i], "DC-%zu", i);
        centre [i].name = names [i];
        centre [i].country = (char *) "JP";
        centre [i].prefecture = (char *) "13";
        centres [i] = &centre [i];
    }
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "データセンターの多い株式会社";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "6012345678901";
    apply.data_centres = centres;
    apply.n_data_centres = n;
    reply = rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply);
    assert_non_null (strstr (reply->status->message, "at most 256 data centres"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    //  One fewer is taken as far as this rule goes
    apply.n_data_centres = 256;
    reply = rf_ask ("operator", RF_BODY (PROVIDER_APPLY), &apply);
    assert_null (strstr (reply->status->message, "at most"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("contracts"), contracts);
    assert_int_equal (rf_count ("services"), services);
    assert_true (rf_count ("providers") <= providers + 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r3_1_reference_list),
        cmocka_unit_test (test_r3_1_r7_1_designated_city_ward_is_no_local_government),
        cmocka_unit_test (test_r3_2_president_approval),
        cmocka_unit_test (test_r3_2_approval_not_rewritten_once_decided),
        cmocka_unit_test (test_r3_3_data_centres),
        cmocka_unit_test (test_r4_3_qualification_review),
        cmocka_unit_test (test_r12_1_operating_body_again_after_rejection_or_cancellation),
        cmocka_unit_test (test_r9_service_registration),
        cmocka_unit_test (test_r12_1_service_name_is_one_services),
        cmocka_unit_test (test_r12_1_rejected_service_name_may_apply_again),
        cmocka_unit_test (test_r7_contracts),
        cmocka_unit_test (test_r4_1_activation_needs_registered_service),
        cmocka_unit_test_teardown (test_r7_2_delivery_not_after_today, rf_clock_back),
        cmocka_unit_test (test_r4_1_activation_waits_for_a_service_cancellation),
        cmocka_unit_test (test_r4_1_activation_waits_for_a_hosting_providers_cancellation),
        cmocka_unit_test (test_r8_interconnections),
        cmocka_unit_test (test_r8_2_operating_body_is_no_side_of_an_interconnection),
        cmocka_unit_test (test_r8_2_prefecture_is_no_side_of_an_interconnection),
        cmocka_unit_test (test_r3_1_reapply_after_rejection),
        cmocka_unit_test (test_r3_1_one_provider_per_local_government),
        cmocka_unit_test (test_r4_3_service_list),
        cmocka_unit_test (test_r4_3_review_queue),
        cmocka_unit_test (test_r4_3_review_queue_names_the_provider),
        cmocka_unit_test (test_r10_1_contract_needs_its_provider_in_the_service),
        cmocka_unit_test (test_x3_contract_tells_nothing_of_a_service_not_provided),
        cmocka_unit_test (test_x3_r4_1_refusal_tells_a_provider_no_other_providers_state),
        cmocka_unit_test (test_r10_1_holders_change_keeps_the_providers_of_active_contracts),
        cmocka_unit_test (test_r7_1_using_body_of_a_long_name),
        cmocka_unit_test (test_x3_lists_in_a_request_are_bounded),
    };
    return cmocka_run_group_tests (tests, s_setup, rf_teardown);
}
