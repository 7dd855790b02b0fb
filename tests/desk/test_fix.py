"""The FIX 4.4 acceptor over real TCP, with the real Celery worker pricing the RFQs."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealer.desk import services
from dealer.desk.models import Quote, Rfq, Trade
from tests.desk.fixclient import FixClient, frame, now
from tests.desk.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def session(port: int, code: str, heartbeat: int = 30) -> Iterator[FixClient]:
    """A logged-on client (ResetSeqNumFlag=Y), logged out cleanly at the end."""
    fix = FixClient(port, code)
    logon = fix.logon(heartbeat)
    assert logon.type == "A", logon
    try:
        yield fix
    finally:
        with contextlib.suppress(OSError, AssertionError):
            fix.send("5")
            fix.closed(3)
        fix.close()


def quote_request(fix: FixClient, req_id: str, isin: str, side: int = 1, qty: str = "500000") -> None:
    fix.send("R", [(131, req_id), (146, 1), (55, "BOND"), (48, isin), (22, 4), (54, side), (38, qty)])


def new_order(fix: FixClient, cl_ord_id: str, quote_id: str, isin: str, side: int = 1, qty: str = "500000") -> None:
    fix.send("D", [(11, cl_ord_id), (117, quote_id), (55, "BOND"), (48, isin), (22, 4), (54, side),
                   (38, qty), (40, "D"), (60, now())])


# --- codec (no network) -----------------------------------------------------------------------

def test_the_parser_frames_split_input_and_drops_garbled_frames_without_losing_the_next() -> None:
    from dealer.desk.fix import FixMessage, FixParser, Garbled, encode

    good = encode([(35, "0"), (49, "A"), (56, "B"), (34, 2), (52, now())])
    assert good == frame([(35, "0"), (49, "A"), (56, "B"), (34, 2), (52, good.split(b"52=")[1][:21].decode())])
    bad_sum = good[:-4] + b"000\x01"
    bad_len = good.replace(b"9=", b"9=1", 1)
    parser = FixParser()
    out = parser.feed(bad_sum + bad_len[:10])
    out += parser.feed(bad_len[10:] + good[:7])
    out += parser.feed(good[7:])
    assert [type(o) for o in out] == [Garbled, Garbled, FixMessage]
    assert out[2].msg_type == "0" and out[2].seq == 2


# --- session layer --------------------------------------------------------------------------

def test_logon_with_reset_then_test_request_gets_a_heartbeat_and_logout_ends(book, fix_server) -> None:
    fix = FixClient(fix_server, "CLT0007")
    logon = fix.logon(30)
    assert (logon.type, logon[34], logon[49], logon[56], logon[108], logon[141]) == (
        "A", "1", "DEALER", "CLT0007", "30", "Y")
    fix.send("1", [(112, "ping-1")])
    hb = fix.recv()
    assert (hb.type, hb[112], hb[34]) == ("0", "ping-1", "2")
    fix.send("5")
    assert fix.recv().type == "5"
    assert fix.closed()


def test_an_idle_session_gets_heartbeats_and_a_test_request(book, fix_server) -> None:
    with session(fix_server, "CLT0008", heartbeat=1) as fix:
        assert fix.recv(3).type in ("0", "1")
        test = fix.recv_type("1", timeout=5)  # we stayed silent: the dealer checks we are alive
        fix.send("0", [(112, test[112])])
        fix.send("1", [(112, "still-there")])
        assert fix.recv_type("0", timeout=3).get(112) in ("still-there", None)


def test_a_sequence_gap_gets_a_resend_request_and_the_gap_fill_releases_the_queue(book, fix_server) -> None:
    with session(fix_server, "CLT0007") as fix:
        fix.send("1", [(112, "after-gap")], seq=5)
        resend = fix.recv()
        assert (resend.type, resend[7], resend[16]) == ("2", "2", "0")
        fix.send("4", [(43, "Y"), (122, now()), (123, "Y"), (36, 5)], seq=2)
        hb = fix.recv()
        assert (hb.type, hb[112]) == ("0", "after-gap")
        fix.seq = 6
        fix.send("1", [(112, "in-seq")])
        assert fix.recv()[112] == "in-seq"


def test_a_client_resend_request_is_answered_with_a_gap_fill(book, fix_server) -> None:
    with session(fix_server, "CLT0007") as fix:
        fix.send("1", [(112, "x")])
        assert fix.recv().type == "0"  # our seq 2
        fix.send("2", [(7, 1), (16, 0)])
        fill = fix.recv()
        assert (fill.type, fill[34], fill[123], fill[36], fill[43]) == ("4", "1", "Y", "3", "Y")
        assert 122 in fill
        fix.send("1", [(112, "y")])
        assert (fix.recv()[34]) == "3"  # the gap fill did not use a new number


def test_garbled_messages_are_ignored_and_bad_ones_rejected(book, fix_server) -> None:
    with session(fix_server, "CLT0007") as fix:
        header = fix.header("1", seq=2)
        fix.send_raw(frame(header + [(112, "bad-sum")], checksum=0))
        fix.send_raw(frame(header + [(112, "bad-len")], body_length=7))
        fix.send_raw(frame(header + [(112, "good")]))
        fix.seq = 3
        hb = fix.recv()
        assert (hb.type, hb[112]) == ("0", "good")  # the garbled ones used no sequence number

        fix.send("ZZ", [(58, "what")])
        rej = fix.recv()
        assert (rej.type, rej[45], rej[373]) == ("3", "3", "11")
        fix.send("R", [(146, 1), (48, book.isin()), (22, 4), (54, 1), (38, "500000")])
        rej = fix.recv()
        assert (rej.type, rej[45], rej[373], rej[371]) == ("3", "4", "1", "131")
        fix.send("1", [(112, "alive")])
        assert fix.recv()[112] == "alive"
    assert not Rfq.objects.exists()


def test_a_sequence_number_too_low_ends_the_session(book, fix_server) -> None:
    fix = FixClient(fix_server, "CLT0007")
    fix.logon()
    fix.send("1", [(112, "old")], seq=1)
    out = fix.recv()
    assert out.type == "5" and "too low" in out[58]
    assert fix.closed()


@pytest.mark.parametrize("sender,target,text", [("NOPE01", "DEALER", "Unknown"), ("CLT0007", "OTHER", "TargetCompID")])
def test_an_unknown_sender_or_target_is_refused_at_logon(book, fix_server, sender, target, text) -> None:
    fix = FixClient(fix_server, sender, target)
    out = fix.logon()
    assert out.type == "5" and text in out[58]
    assert fix.closed()


# --- application layer ----------------------------------------------------------------------

def test_tier3_quote_request_gets_an_offer_and_new_order_single_fills(book, fix_server) -> None:
    isin = book.isin()
    with session(fix_server, "CLT0007") as fix:
        quote_request(fix, "fq1", isin, side=1)
        quote = fix.recv_type("S")
        assert (quote[131], quote[48], quote[22], quote[54], quote[135]) == ("fq1", isin, "4", "1", "500000")
        assert 133 in quote and 132 not in quote and 62 in quote
        db_quote = Quote.objects.get(id=int(quote[117]))
        assert Decimal(quote[133]) == db_quote.price

        new_order(fix, "ord1", quote[117], isin)
        er = fix.recv_type("8")
        assert (er[11], er[150], er[39], er[14], er[151], er[117]) == ("ord1", "F", "2", "500000", "0", quote[117])
        assert Decimal(er[31]) == Decimal(er[6]) == db_quote.price and er[32] == "500000"
        trade = Trade.objects.get()
        assert er[37] == str(trade.id) and trade.quantity == Decimal(500000)
        assert Rfq.objects.get().channel == "fix"

        # The client sells: the dealer bids.
        quote_request(fix, "fq2", isin, side=2, qty="250000")
        bid = fix.recv_type("S")
        assert bid[131] == "fq2" and 132 in bid and 133 not in bid and bid[134] == "250000"

        # Our application messages are resent on request, flagged PossDup.
        seq = int(bid[34])
        fix.send("2", [(7, seq), (16, seq)])
        again = fix.recv_type("S")
        assert (again[34], again[43], again[117]) == (str(seq), "Y", bid[117])


def test_a_repeated_quote_request_is_idempotent(book, fix_server) -> None:
    isin = book.isin()
    with session(fix_server, "CLT0009") as fix:
        quote_request(fix, "same", isin)
        first = fix.recv_type("S")
        quote_request(fix, "same", isin)
        second = fix.recv_type("S")
        assert second[117] == first[117] and second[131] == "same"
    assert Rfq.objects.count() == 1


def test_an_unknown_isin_gets_a_quote_request_reject(book, fix_server) -> None:
    with session(fix_server, "CLT0007") as fix:
        quote_request(fix, "nope", "US0000000000")
        rej = fix.recv_type("AG")
        assert (rej[131], rej[658]) == ("nope", "1") and "ISIN" in rej[58]
    assert not Rfq.objects.exists()


def test_a_declined_rfq_gets_a_quote_request_reject_over_the_limit(book, fix_server) -> None:
    with session(fix_server, "CLT0007") as fix:
        quote_request(fix, "huge", book.isin(), qty="9000000000")
        rej = fix.recv_type("AG", timeout=15)
        assert (rej[131], rej[658]) == ("huge", "3") and "declined" in rej[58]


def test_tier1_gets_its_quote_after_the_senior_trader_sends_it(book, fix_server) -> None:
    isin = book.isin()
    with session(fix_server, "CLT0001") as fix:
        quote_request(fix, "t1", isin, qty="2000000")
        rfq = wait_for(lambda: Rfq.objects.filter(client_rfq_id="t1", status="pending_review").first())
        services.review_decide(user=book.user("senior1"), rfq_id=rfq.id, action="send")
        quote = fix.recv_type("S")
        rfq.refresh_from_db()
        assert (quote[131], quote[117], quote[135]) == ("t1", str(rfq.quote_id), "2000000")


def test_a_quote_decided_while_disconnected_is_sent_at_the_next_logon(book, fix_server) -> None:
    isin = book.isin()
    with session(fix_server, "CLT0002") as fix:
        quote_request(fix, "away", isin)
        rfq = wait_for(lambda: Rfq.objects.filter(client_rfq_id="away", status="pending_review").first())
    services.review_decide(user=book.user("senior1"), rfq_id=rfq.id, action="send")
    with session(fix_server, "CLT0002") as fix:
        quote = fix.recv_type("S")
        assert quote[131] == "away" and quote[117] == str(Rfq.objects.get(id=rfq.id).quote_id)


def test_a_late_or_unknown_new_order_single_is_rejected(book, fix_server) -> None:
    isin = book.isin()
    with session(fix_server, "CLT0007") as fix:
        quote_request(fix, "late", isin)
        quote = fix.recv_type("S")
        Quote.objects.filter(id=int(quote[117])).update(valid_until=timezone.now() - timedelta(seconds=1))
        new_order(fix, "ord-late", quote[117], isin)
        er = fix.recv_type("8")
        assert (er[11], er[150], er[39]) == ("ord-late", "8", "8") and "expired" in er[58]

        new_order(fix, "ord-unknown", "999999", isin)
        er = fix.recv_type("8")
        assert (er[11], er[39]) == ("ord-unknown", "8") and "Unknown QuoteID" in er[58]
    assert not Trade.objects.exists()
