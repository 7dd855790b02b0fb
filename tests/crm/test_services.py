"""Client parameters: bounds enforced in the services, the credit approval, the CSV import, the audit."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import selectors, services
from crm.models import Agreement, Client, CreditLineRequest, Interest
from dealer.errors import DeskError, Forbidden
from dealer.market.models import Instrument

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def _agreement(book, user="rm2", code="CLT0007", **kw):
    args = {"scope": "all", "value": None, "spread_adjustment_bp": -1.0, "start": str(TODAY),
            "end": str(TODAY + timedelta(days=30))}
    args.update(kw)
    return services.agreement_create(user=book.user(user), client=book.client(code), **args)


@pytest.mark.parametrize("kw,field", [
    ({"spread_adjustment_bp": -2.5}, "spread_adjustment_bp"),  # Tier 3 band is -2 .. +10
    ({"spread_adjustment_bp": "wide"}, "spread_adjustment_bp"),
    ({"end": str(TODAY - timedelta(days=1))}, "end"),
    ({"start": "31/12/2025"}, "start"),
    ({"max_size": "-1000"}, "max_size"),
    ({"scope": "instrument", "value": "XS0000000000"}, "value"),
    ({"scope": "side", "value": "both"}, "value"),
])
def test_bad_agreements_name_the_field_and_write_nothing(book, kw, field) -> None:
    with pytest.raises(DeskError) as exc:
        _agreement(book, **kw)
    assert exc.value.field == field
    assert not Agreement.objects.exists()


def test_overlapping_agreements_on_the_same_scope_are_refused(book) -> None:
    _agreement(book)
    with pytest.raises(DeskError) as exc:
        _agreement(book, start=str(TODAY + timedelta(days=10)), end=str(TODAY + timedelta(days=60)))
    assert exc.value.field == "start" and "Overlaps" in exc.value.message
    _agreement(book, start=str(TODAY + timedelta(days=31)), end=str(TODAY + timedelta(days=60)))  # adjacent: fine
    _agreement(book, scope="side", value="buy")  # another scope: fine
    assert Agreement.objects.count() == 3


def test_edit_and_end_an_agreement_are_audited(book) -> None:
    rm2 = book.user("rm2")
    a = _agreement(book, start=str(TODAY - timedelta(days=5)))
    services.agreement_update(user=rm2, agreement=a, scope="all", value=None, spread_adjustment_bp=-1.5,
                              start=str(a.start), end=str(a.end), max_size="2000000")
    a.refresh_from_db()
    assert a.spread_adjustment_bp == -1.5 and a.max_size == Decimal("2000000")
    with pytest.raises(DeskError):
        services.agreement_update(user=rm2, agreement=a, scope="all", value=None, spread_adjustment_bp=50,
                                  start=str(a.start), end=str(a.end))
    ended = services.agreement_end(user=rm2, agreement=a)
    a.refresh_from_db()
    assert ended.outcome == "ended" and a.end == TODAY - timedelta(days=1)  # stops applying today, kept
    future = _agreement(book, start=str(TODAY + timedelta(days=100)), end=str(TODAY + timedelta(days=120)))
    assert services.agreement_end(user=rm2, agreement=future).outcome == "removed"  # it never applied
    assert not Agreement.objects.filter(id=future.id).exists()
    audit = selectors.client_audit(client=book.client("CLT0007"))
    lines = [(e["who"], e["what"], e["action"], {c["field"]: (c["before"], c["after"]) for c in e["changes"]})
             for e in audit]
    assert ("rm2", f"agreement #{a.id}", "changed", {"spread_adjustment_bp": (-1.0, -1.5),
                                                     "max_size": (None, Decimal("2000000.00"))}) in lines
    assert any(w == f"agreement #{future.id}" and act == "deleted" for _, w, act, _ in lines)


def test_interests_are_kept_and_removable(book) -> None:
    rm1 = book.user("rm1")
    c = book.client("CLT0001")
    sector = Instrument.objects.filter(rfq_enabled=True).first().sector
    i = services.interest_create(user=rm1, client=c, scope="sector", value=sector, side="buy")
    assert services.interest_create(user=rm1, client=c, scope="sector", value=sector, side="buy").id == i.id
    with pytest.raises(DeskError) as exc:
        services.interest_create(user=rm1, client=c, scope="sector", value=sector, side="hold")
    assert exc.value.field == "side"
    iid = i.id
    services.interest_delete(user=rm1, interest=i)
    assert not Interest.objects.exists()
    assert Interest.history.filter(id=iid, history_type="-").get().history_user.username == "rm1"


def test_an_rm_increase_waits_for_management_and_a_decrease_applies(book) -> None:
    rm1, mgmt = book.user("rm1"), book.user("mgmt1")
    c = book.client("CLT0004")
    line = c.credit_line
    change = services.credit_line_change(user=rm1, client=c, credit_line=str(line + 1_000_000), reason="new fund")
    assert not change.applied and book.client("CLT0004").credit_line == line
    with pytest.raises(DeskError):
        services.credit_line_change(user=rm1, client=c, credit_line=str(line + 2_000_000))
    with pytest.raises(Forbidden):
        services.credit_request_decide(user=rm1, request_id=change.request.id, approve=True)
    services.credit_request_decide(user=mgmt, request_id=change.request.id, approve=True)
    assert book.client("CLT0004").credit_line == line + 1_000_000
    assert CreditLineRequest.objects.get().status == "approved"
    with pytest.raises(DeskError) as exc:
        services.credit_request_decide(user=mgmt, request_id=change.request.id, approve=True)
    assert exc.value.status == 409
    assert services.credit_line_change(user=rm1, client=book.client("CLT0004"), credit_line="1000000").applied
    assert book.client("CLT0004").credit_line == Decimal("1000000")
    with pytest.raises(DeskError) as exc:
        services.credit_line_change(user=rm1, client=c, credit_line="-5")
    assert exc.value.field == "credit_line"
    assert services.credit_line_change(user=mgmt, client=c, credit_line="9000000").applied  # management: at once
    history = [(h.history_user.username, h.credit_line) for h in Client.objects.get(code="CLT0004").history.all()[:3]]
    assert history == [("mgmt1", Decimal("9000000.00")), ("rm1", Decimal("1000000.00")),
                       ("mgmt1", line + 1_000_000)]


CSV_HEADER = "client,scope,value,spread_adjustment_bp,start,end\n"


def test_the_csv_import_is_all_or_nothing(book) -> None:
    rm1 = book.user("rm1")
    d0, d1 = TODAY, TODAY + timedelta(days=90)
    good = (CSV_HEADER + f"CLT0001,all,,-3,{d0},{d1}\n" + f"CLT0004,side,sell,1.5,{d0},{d1}\n")
    bad = (good + f"CLT0005,all,,-99,{d0},{d1}\n"          # line 4: beyond the tier's band
           + f"CLT0007,all,,-1,{d0},{d1}\n"                 # line 5: rm2's client
           + f"CLT0002,all,,-1,{d1},{d0}\n"                 # line 6: end before start
           + f"CLT0001,all,,-2,{d0},{d0}\n")                # line 7: overlaps line 2
    with pytest.raises(services.CsvImportError) as exc:
        services.agreements_import_csv(user=rm1, text=bad)
    assert [(ln, col) for ln, col, _ in exc.value.errors] == [
        (4, "spread_adjustment_bp"), (5, "client"), (6, "end"), (7, "start")]
    assert not Agreement.objects.exists()
    created = services.agreements_import_csv(user=rm1, text=good)
    assert len(created) == 2 and Agreement.objects.count() == 2
    assert Agreement.objects.get(client__code="CLT0004").created_by == rm1


def test_a_csv_without_the_columns_is_refused(book) -> None:
    with pytest.raises(services.CsvImportError) as exc:
        services.agreements_import_csv(user=book.user("rm1"), text="client,bp\nCLT0001,1\n")
    assert {col for _, col, _ in exc.value.errors} >= {"scope", "start", "end"}


def test_client_csv_import_is_all_or_nothing_and_names_each_bad_cell(book) -> None:
    from crm.models import Client
    from crm.services import CsvImportError, clients_import_csv

    rm1, mgmt = book.user("rm1"), book.user("mgmt1")
    before = Client.objects.count()
    bad = ("code,name,tier,credit_line\n"
           "NEW001,Good Fund,3,1000000\n"
           "CLT0001,Taken,2,1000\n"
           "NEW002,,4,-5\n"
           "NEW003,Too Much,3,900000000\n")
    with pytest.raises(CsvImportError) as err:
        clients_import_csv(user=rm1, text=bad)
    cells = {(ln, col) for ln, col, _ in err.value.errors}
    assert {(3, "code"), (4, "name"), (4, "tier"), (4, "credit_line"), (5, "credit_line")} <= cells
    assert (2, "code") not in cells
    assert Client.objects.count() == before
    with pytest.raises(CsvImportError) as err:
        clients_import_csv(user=rm1, text="code,name,tier,credit_line,rm\nNEW004,X,3,100,rm2\n")
    assert err.value.errors[0][1] == "rm"
    made = clients_import_csv(user=rm1, text="code,name,tier,credit_line\nNEW001,Good Fund,3,1000000\n")
    assert [(c.code, c.rm.username, c.tier.number) for c in made] == [("NEW001", "rm1", 3)]
    big = clients_import_csv(user=mgmt, text="code,name,tier,credit_line,rm\nNEW005,Big,1,3000000000,rm2\n")
    assert big[0].rm.username == "rm2" and Client.objects.get(code="NEW005").history.count() == 1


def test_client_csv_import_page_refuses_traders_and_lists_errors(book) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client as HttpClient

    trader = HttpClient()
    trader.login(username="trader1", password="demo")
    upload = SimpleUploadedFile("c.csv", b"code,name,tier,credit_line\nNEW009,A,3,1\n", content_type="text/csv")
    assert trader.post("/crm/import/clients/", {"file": upload}).status_code == 403
    rm = HttpClient()
    rm.login(username="rm1", password="demo")
    bad = SimpleUploadedFile("c.csv", b"code,name,tier,credit_line\nbad code,A,9,1\n", content_type="text/csv")
    r = rm.post("/crm/import/clients/", {"file": bad})
    page = r.content.decode()
    assert r.status_code == 400 and "Nothing was imported" in page
    assert "<td>2</td><td>code</td>" in page and "<td>2</td><td>tier</td>" in page
    assert not Client.objects.filter(code="NEW009").exists()
