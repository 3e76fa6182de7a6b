"""Build the bundled demo scenario that `triage demo` replays: one day at Parcelpad.

Parcelpad is a small, fictional parcel-locker and delivery app. Every text in this file was written for
the project; nothing is taken from a dataset. `python data/demo/generate.py` writes `demo_day.jsonl` (the
scenario replay file of DESIGN.md) and `demo_day.truth.json` (the answer key, in the schema of the shared
benchmark scenarios). The RNG is seeded, so two runs give byte-identical files.

How the day (2026-04-14, UTC) is built:
- five `service` lines, described in customer words;
- background posts at a diurnal rate (quiet at night, peak mid-afternoon): chatter, questions, feature
  wishes, praise and a steady trickle of everyday complaints (missed couriers, damaged boxes, slow
  refunds, ...) that must page nobody; about 30 % of background authors post more than once;
- two incidents, each caused by a change on the right service 5-30 minutes before its first post, then
  posts from fresh authors timed by a Beta(2, 4) profile (ramp, peak, decay), ~15 % of them posting again
  ("still broken"), about a third as Zendesk tickets. Around each, a change on another service lands
  closer to the onset (red herring); the first one also gets a late monitoring `alert`;
- decoys: one spammer repeating a rant, a praise burst after a `flag` launch, a big deploy followed by
  nothing; routine changes through the working day, kept off an incident's service from 90 minutes
  before its onset to its end.
Texts are composed from hand-written phrase banks (openers, symptoms, context, asks, emoji, typos), so
the posts of one incident read like different people. Post ids (t1.., z1..) and change ids (c1..) are
numbered in time order.
"""
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 1404
NAME = "demo_day"
DAY = datetime(2026, 4, 14, tzinfo=UTC)
HERE = Path(__file__).resolve().parent


def P(s):
    return s.split("|")


SERVICES = [
    ("lockers", "parcel lockers, picking up a parcel, pickup code, locker door won't open, locker full"),
    ("tracking", "where is my parcel, tracking status, courier, delivery time, notifications, live map"),
    ("payments", "paying in the app, card declined at checkout, charged twice, refund, delivery fee"),
    ("returns", "sending a parcel back, return label, drop-off, return not received by the shop"),
    ("account", "logging in, sign-in code, password, addresses, profile and settings in the app"),
]
HOURLY = [2, 1, 1, 1, 1, 2, 4, 7, 10, 11, 12, 13, 14, 15, 16, 16, 15, 13, 12, 10, 8, 6, 4, 3]
PRIORITY = (P("low|normal|high|urgent"), [25, 50, 20, 5])
HANDLES = P("@Parcelpad|@ParcelpadHelp|hey @Parcelpad|@Parcelpad @ParcelpadHelp")
PLACES = P("Mill Road|Station Road|Harbour St|Uni Library|Northgate|Riverside|Elm Park|Central Mall|King St|"
           "Co-op Fenwick|Fenwick Lane|Queens Park")
NAMES = P("Sam|Priya|Tom|Aisha|Gareth|Mei|Joe|Fatima|Liam|Ruth|Dev|Hannah|Oskar|Niamh|Carlos|Beth")
GREET = P("Hi,|Hello,|Hi there,|Good morning,|Hello team,|Hi Parcelpad,|")
SIGN = P("Thanks|Thank you,\n{name}|Regards,\n{name}|Cheers, {name}||Kind regards,\n{name}|Thanks in advance")
EMOJI_BAD = P("😤|🙄|😩|😡|🤦|😠|🫠|💀")

I1 = dict(
    cores=P("the locker keeps telling me my pickup code is invalid|locker screen says 'code not recognised' "
            "no matter how many times I type it|scanned my QR three times and the door never popped open|the "
            "app says my parcel is ready but the locker says there's no such code|typed the code, heard a "
            "click, door stayed shut|the locker beeps, flashes red and nothing opens|my pickup code gets "
            "rejected at the {place} locker|can't get my parcel out, the compartment just won't "
            "unlock|pressed 'open locker' in the app, it spun for a minute then said unlock failed|put my "
            "code in {n} times and the locker just goes back to the start screen|your locker won't accept my "
            "code|'unlock failed, please try again later'. tried again later. same thing|the bluetooth open "
            "button times out while I'm standing right at the locker|every code I try at the {place} locker "
            "comes back invalid|locker takes the code then instantly says 'door fault'|been trying to "
            "collect a parcel for {n}0 min, the locker refuses my code|locker made the happy unlock noise "
            "and then... nothing. door still shut|got the 'parcel ready' text, went to {place}, code doesn't "
            "work|the little door light goes green for a second then red again|touchscreen on the locker "
            "just says 'please wait' and then rejects the code"),
    context=P("standing here in the rain|on my lunch break, which is now gone|with a toddler who has run out "
              "of patience|there's a queue behind me all doing the same thing|the woman next to me can't get "
              "hers out either|had to give up and go home empty handed|it's my prescription in there|need "
              "this parcel for a birthday tonight|drove across town for this|tried the other locker bank "
              "too|two other people here with the same problem|my kid's school shoes are in there"),
    asks=P("what is going on?|is it just me?|please sort it|anyone else?|help??|how do I get my parcel "
           "now?|is something down?|can you open it remotely?|fix your lockers pls|not "
           "impressed|brilliant.|this is ridiculous"),
    subjects=P("Locker won't open|Pickup code not accepted|Can't collect my parcel from the locker|Locker "
               "door stuck - need my parcel today|Unlock failed at {place}|Code invalid at parcel "
               "locker|URGENT: parcel locked in|Locker problem"),
    details=P("My tracking number is {ref}.|It's bay {bay} at the {place} locker.|I tried the code from the "
              "text and the one in the app.|Please can you open it remotely or tell me what to do.|I don't "
              "want it sent back to the depot because I couldn't get it out.|Could someone call me back "
              "please?"),
    again=P("still can't open the locker, going on {n}0 minutes now|update: tried again, still 'code "
            "invalid'|still broken. any ETA?|second go, different bay, same error|still nothing. parcel "
            "still locked in there|went back to the locker, still won't open. what's the plan?|no change "
            "here, it's still rejecting my code"),
    tags=P("#parcelpad|#lockerfail|#fail|📦|🔒"),
)
I2 = dict(
    cores=P("my card keeps getting declined when I pay for the delivery, the bank says nothing even reached "
            "them|checkout just says 'payment failed' and I've tried two different cards|the bank check "
            "screen spins forever and then the payment is declined|can't pay for my locker booking, 'card "
            "declined' every single time|the 3D Secure window opens blank and then says payment declined|my "
            "card works everywhere else but your checkout rejects it|stuck on 'verifying your card' forever, "
            "then declined|tried Apple Pay and my debit card, both declined at checkout|paying for a return "
            "label errors out with 'payment could not be completed'|approved the payment in my banking app "
            "and Parcelpad still says declined|got as far as paying and it bounced, 'card not accepted'|the "
            "bank pop-up never shows, just a red 'declined' banner|three cards, three declines. it's not my "
            "cards|card declined at checkout. plenty of money on it, promise|can't send my parcel because "
            "checkout won't take any card|payment page goes white after the bank check and tells me to try "
            "again"),
    context=P("need to ship this today|the sale ends tonight|tried on wifi and on 4G|bank says no attempt "
              "was made|tried my partner's card too|it worked fine last week|it's my mum's birthday "
              "present|I've got a shop to run here|reinstalled the app, no change"),
    asks=P("is checkout down?|what's going on with payments?|please fix asap|anyone else getting "
           "this?|help|can I pay another way?|losing my mind here|come on"),
    subjects=P("Payment declined at checkout|Card declined but bank says it's fine|Can't pay for "
               "shipping|Checkout error - payment failed|3D Secure not loading|Unable to complete "
               "payment|Card refused in app"),
    details=P("Order reference {ref}.|I tried a Visa and a Mastercard.|My bank confirmed there is no block "
              "on the card.|I run a small shop and can't send today's orders.|Happy to send a screenshot of "
              "the error."),
    again=P("still getting declined at checkout|tried again {n}0 min later, still declined|still can't pay. "
            "any update?|checkout still broken for me|another go, another 'payment failed'"),
    tags=P("#parcelpad|💳|#fail|"),
)
# everyday complaints: categories that no incident uses
COMPLAINT_GROUPS = {  # ticket subject -> what people write
    "Missed delivery": P("the driver marked my parcel 'nobody home' but I was in all day|courier says he "
                         "tried to deliver. no knock, no card, nothing|my delivery slot was 9 to 12 and it's "
                         "now gone 3|parcel went to the wrong house again, third time this month"),
    "Damaged parcel": P("parcel turned up with a huge dent and the box soaked through|my order arrived "
                        "crushed, the mug inside is in pieces|box arrived ripped open and taped back up"),
    "Refund still not received": P("still waiting on the refund for a delivery you cancelled {n} days "
                                   "ago|refund was 'on its way' a week ago, not seen a penny|you charged me "
                                   "for next-day and it came in four days. where's my refund?"),
    "Return not registered": P("dropped my return at the locker {n} days ago and it still says not "
                               "received|shop says my return never came back but I have the receipt|the post "
                               "office counter couldn't read my return barcode"),
    "Redirected to another locker": P("got sent to a locker 3 miles away because mine was 'full'|the {place} "
                                      "locker is always full so my parcels get redirected"),
    "Late notification": P("got the 'parcel is ready' text six hours after it arrived|no notification at "
                           "all, only found out when it was about to expire|tracking hasn't moved in {n} "
                           "days"),
    "No reply to my ticket": P("waited {n} days for a reply to my ticket|the chat bot keeps sending me back "
                               "to the FAQ"),
    "Fees": P("delivery fee went up again and nobody told me|paying the 'medium' price for something the "
              "size of a paperback"),
}
COMPLAINTS = [c for group in COMPLAINT_GROUPS.values() for c in group]
COMPLAINT_TAILS = P("not good enough|sort it out|getting tired of this|really poor|any chance someone can "
                    "look at this?|would appreciate a reply||")
QUESTIONS = P(
    "how do I change my delivery address after ordering?|can someone else pick up my parcel from the "
    "locker?|how long does a parcel stay in the locker before it goes back?|do you deliver on Sundays?|can I "
    "send a parcel abroad with you?|where do I find the code for my return?|is there a locker anywhere near "
    "{place}?|how do I add a second card to my account?|what's the biggest box that fits in a locker?|can I "
    "switch lockers once the parcel is on its way?|is the {place} locker open all night?|how do I get a VAT "
    "invoice for my deliveries?|can I put two items in one return?|how do I delete an old address from the "
    "app?|is there a discount if I send lots of parcels?|can I change the email on my account?")
Q_OPEN = P("quick q:|hi!|sorry if this is obvious but|@Parcelpad|@ParcelpadHelp||")
Q_TAILS = P("thanks!|cheers|ta|couldn't find it in the FAQ|asking for my mum||")
Q_SUBJECTS = P("Quick question|Question about Parcelpad|Help please|Query|Question|How do I...?")
WISHES = P(
    "would love a dark mode|please let me set a favourite locker|can we get a 'leave with neighbour' option?|"
    "wish the app showed roughly when the courier will turn up|a watch app with the pickup code would be "
    "amazing|let me share a pickup code with my partner please|would be great to book a collection from my "
    "door|could you put lockers at the train stations?|please add a way to leave notes for the driver|a home "
    "screen widget with my codes would save me so much time|more lockers at {place} please!")
W_TAILS = P("🙏|just saying|pretty please|would use it daily||")
W_SUBJECTS = P("Feature suggestion|Idea for the app|Suggestion|Feedback")
PRAISE = P(
    "parcel was in the locker before I even got home, love it|best delivery app I've used, not even "
    "close|the driver today was so lovely, gave my dog a biscuit|return done in two minutes at the locker, "
    "so easy|the lockers have honestly ended my missed-delivery era|support sorted my problem in 5 minutes, "
    "thank you|never going back to waiting in for couriers|super smooth pickup at {place} today|love that I "
    "can collect at midnight on the way home|got my refund the same day, didn't expect that")
P_TAILS = P("❤️|👏|10/10|thank you!|#parcelpad||")
LAUNCH = P(
    "the new live map is brilliant, watched my parcel come down the street|live courier map!!! finally|ok "
    "the live map is genuinely fun to watch|can see exactly where my driver is now, love the new map|whoever "
    "built the live tracking map deserves a raise|just watched the little van go round the roundabout twice, "
    "best update ever|the new map means I don't have to sit by the window all day|the live courier map just "
    "saved me from missing a delivery|finally know when to put the kettle on, thanks for the live map|this "
    "map update is so good|tracking on a map in real time?? yes please")
L_OPEN = P("@Parcelpad|wow|ok|not gonna lie|update appreciation post:||")
L_TAILS = P("😍|🙌|🚐|well done|#parcelpad|")
CHAT_A = P(
    "third parcel this week|rain all day|back at work after a week off|first coffee and it's already "
    "cold|the neighbour's dog knows the sound of the courier van|working from home means I know every driver "
    "by name|the locker at the station is right next to a bakery|cleared out my wardrobe this "
    "weekend|ordered a lamp, got a lamp the size of a thimble|teaching my nan to shop online|moving flat "
    "next week|tomato plants are finally coming up|the bus was late again|found a birthday present I hid in "
    "march|my cat has claimed the delivery box|gym at 6am|someone in the office ordered 40 pizzas|watching "
    "the match at the pub tonight")
CHAT_B = P("and it's only tuesday|send help|not complaining|lol|what a time to be alive|classic|day made|"
           "honestly|as you do|thoughts?|the dream|")
FOLLOW_UP = P("Re: still not fixed|Following up|Still a problem")
SPAM = ("@Parcelpad YOU LOST MY PARCEL PP40917733 AND NOBODY ANSWERS. REFUND ME NOW OR I GO TO THE PAPERS "
        "#parcelpad #scam")
ROUTINE = [("tracking", "deploy", "tracking-api v4.2.7: faster status page"),
           ("account", "config", "account: shorten sign-in code expiry to 10 minutes"),
           ("returns", "deploy", "returns-web v1.19.0: clearer drop-off instructions"),
           ("lockers", "config", "lockers: add 12 new Riverside lockers to the map"),
           ("payments", "deploy", "payments-api v6.3.2: invoice PDF layout fix"),
           ("tracking", "config", "tracking: courier depot time zones updated"),
           ("account", "deploy", "account-api v2.14.0: profile photo upload"),
           ("lockers", "deploy", "locker-admin v0.9.4: maintenance screen for staff"),
           ("returns", "config", "returns: new wording on the return window banner"),
           ("payments", "flag", "flag saved-cards-reorder: on for 20% of users")]


class Day:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.events, self.authors, self.slots = [], set(), None

    def at(self, hh, mm, jitter=0):
        return DAY + timedelta(hours=hh, minutes=mm, seconds=self.r.randint(0, jitter))

    def diurnal(self):
        hour = self.r.choices(range(24), weights=HOURLY)[0]
        return DAY + timedelta(hours=hour, seconds=self.r.randrange(3600))

    def author(self, source):
        while True:
            a = (f"u{self.r.randint(10**6, 10**9)}" if source == "twitter"
                 else f"org{self.r.randint(1, 480)}:u{self.r.randint(100, 99999)}")
            if a not in self.authors:
                self.authors.add(a)
                return a

    def fill(self, s):  # slot values are drawn once per post, so one ticket names one locker
        if self.slots is None:
            r = self.r
            self.slots = dict(place=r.choice(PLACES), n=r.randint(2, 6), ref=f"PP{r.randrange(10**7, 10**8)}",
                              bay=r.randint(1, 48), name=r.choice(NAMES))
        return s.format(**self.slots)

    def style(self, s):
        r, x = self.r, self.r.random()
        if x < 0.25:
            s = s.lower()
        elif x < 0.33:
            s = s.replace("'", "")
        if r.random() < 0.15:  # a typo: swap two letters inside one longer word
            ws = s.split(" ")
            cand = [i for i, w in enumerate(ws) if len(w) >= 5 and w.isalpha()]
            if cand:
                i = r.choice(cand)
                j = r.randrange(1, len(ws[i]) - 2)
                w = ws[i]
                ws[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
                s = " ".join(ws)
        return s

    def tweet(self, opens, cores, tails, extras=(), tags=(), p_open=0.6):
        r = self.r
        text = r.choice(opens) if r.random() < p_open else ""
        text = (text + " " if text else "") + self.fill(r.choice(cores))
        for bank, p in ((extras, 0.5), (tails, 0.6), (tags, 0.3)):
            x = self.fill(r.choice(bank)) if bank and r.random() < p else ""
            if x and (text[-1] in ".?!:" or x[0] in "#@" or ord(x[0]) > 0x2000):
                text += " " + x
            elif x:
                text += r.choice([". ", ", ", " - ", "... ", " ", " — "]) + x
        text = self.style(text)
        return text[:1].upper() + text[1:] if r.random() < 0.6 else text

    def ticket(self, subjects, cores, details=(), n_details=(0, 1)):
        r = self.r
        picked = [r.choice(cores)] + (r.sample(details, r.randint(*n_details)) if details else [])
        body = [sentence(self.fill(s)) for s in picked]
        greet, sign = r.choice(GREET), self.fill(r.choice(SIGN))
        text = (greet + "\n\n" if greet else "") + " ".join(body) + ("\n\n" + sign if sign else "")
        return self.fill(r.choice(subjects)) + "\n\n" + text

    def post(self, source, author, text, t, tag):
        self.slots = None
        ev = {"kind": "post", "source": source, "author": author, "text": text, "t": t, "tag": tag}
        if source == "zendesk":
            ev["priority"] = self.r.choices(*PRIORITY)[0]
        self.events.append(ev)
        return ev

    def change(self, service, kind, summary, t, tag):
        ev = {"kind": "change", "service": service, "change_kind": kind, "summary": summary, "t": t,
              "tag": tag}
        self.events.append(ev)
        return ev

    def background(self, n):
        r, slots = self.r, []
        kinds = [("chat", 26, 0.0), ("question", 28, 0.45), ("wish", 10, 0.3), ("praise", 14, 0.05),
                 ("complaint", 22, 0.4)]
        for _ in range(n):
            kind, _w, zd = r.choices(kinds, weights=[k[1] for k in kinds])[0]
            slots.append((self.diurnal(), kind, "zendesk" if r.random() < zd else "twitter"))
        for source in ("twitter", "zendesk"):  # ~30 % of authors post 2-4 times
            mine = [i for i, s in enumerate(slots) if s[2] == source]
            r.shuffle(mine)
            while mine:
                a, k = self.author(source), 1 if r.random() < 0.7 else r.choice([2, 2, 2, 3, 3, 4])
                for i in mine[:k]:
                    self.emit_background(slots[i], a)
                mine = mine[k:]

    def emit_background(self, slot, a):
        t, kind, source = slot
        if source == "zendesk":
            subj, cores = {"question": (Q_SUBJECTS, QUESTIONS), "wish": (W_SUBJECTS, WISHES),
                           "praise": (P("Thank you|Compliment"), PRAISE),
                           "complaint": None}[kind] or self.r.choice(list(COMPLAINT_GROUPS.items()))
            subj = [subj] if isinstance(subj, str) else subj
            text = self.ticket(subj, cores)
        elif kind == "chat":
            text = self.tweet([""], CHAT_A, CHAT_B, p_open=0)
        else:
            opens, cores, tails = {"question": (Q_OPEN, QUESTIONS, Q_TAILS),
                                   "wish": (HANDLES, WISHES, W_TAILS),
                                   "praise": (HANDLES, PRAISE, P_TAILS),
                                   "complaint": (HANDLES, COMPLAINTS, COMPLAINT_TAILS)}[kind]
            text = self.tweet(opens, cores, tails, tags=EMOJI_BAD if kind == "complaint" else ())
        self.post(source, a, text, t, "complaint" if kind == "complaint" else "noise")

    def incident(self, tag, bank, start, minutes, n_authors, cause, herring, alert_after=None):
        r, used, evs = self.r, set(), []
        for _ in range(n_authors):
            source = "zendesk" if r.random() < 0.33 else "twitter"
            a, t = self.author(source), start + timedelta(seconds=int(r.betavariate(2, 4) * minutes * 60))
            for k in range(2 if r.random() < 0.15 else 1):
                while True:
                    self.slots = None
                    if source == "zendesk":
                        more = bank["details"] + bank["context"]
                        text = (self.ticket(bank["subjects"], bank["cores"], more, (1, 3)) if k == 0
                                else self.ticket(FOLLOW_UP, bank["again"]))
                    else:
                        text = self.tweet(HANDLES, bank["again"] if k else bank["cores"], bank["asks"],
                                          bank["context"], bank["tags"] + EMOJI_BAD)
                    if text not in used:
                        break
                used.add(text)
                evs.append(self.post(source, a, text, t, tag))
                t += timedelta(seconds=r.randint(8 * 60, 30 * 60))
        onset = min(e["t"] for e in evs)
        lead = r.uniform(8, 25)
        cause_ev = self.change(*cause, onset - timedelta(minutes=lead), "cause:" + tag)
        herring_t = onset - timedelta(minutes=r.uniform(2, lead * 0.6))
        herring_ev = self.change(*herring, herring_t, "herring:" + tag)
        alert_ev = None
        if alert_after:
            alert_t = onset + timedelta(minutes=r.uniform(10, 25))
            alert_ev = self.change(cause[0], "alert", alert_after, alert_t, "alert:" + tag)
        return {"id": tag, "service": cause[0], "posts": evs, "cause": cause_ev, "herring": herring_ev,
                "alert": alert_ev, "onset": onset, "end": max(e["t"] for e in evs)}


def sentence(s):
    s = ". ".join(x[:1].upper() + x[1:] for x in s.split(". "))
    return s + ("" if s[-1] in ".?!'" else ".")


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def build():
    """Return (replay file text, truth file text)."""
    d = Day(SEED)
    d.background(470)
    incs = [
        d.incident("i1", I1, d.at(11, 4, 300), 60, 35,
                   ("lockers", "deploy", "locker-gateway v3.8.0: new door unlock handshake with locker "
                                         "firmware"),
                   ("tracking", "config", "tracking: raise push notification batch size"),
                   "Alertmanager: locker unlock failures above 10% for 5m"),
        d.incident("i2", I2, d.at(16, 31, 300), 40, 15,
                   ("payments", "config", "payments: route card checks to the new 3-D Secure provider"),
                   ("account", "deploy", "account-api v2.14.2: refresh sign-in session tokens")),
    ]
    spam_author, spam_t0 = d.author("twitter"), d.at(19, 2, 240)
    spam = [d.post("twitter", spam_author, SPAM, spam_t0 + timedelta(seconds=d.r.randint(0, 3300)), "spam")
            for _ in range(d.r.randint(18, 23))]
    launch = d.change("tracking", "flag", "flag live-courier-map: launch to 100% of users", d.at(13, 20, 120),
                      "launch")
    praise = [d.post("twitter", d.author("twitter"), d.tweet(L_OPEN, LAUNCH, L_TAILS, p_open=0.5),
                     launch["t"] + timedelta(minutes=4 + d.r.betavariate(2, 3) * 60), "praise")
              for _ in range(d.r.randint(36, 44))]
    quiet = d.change("returns", "deploy", "returns-api v5.0.0: new label generation service",
                     d.at(14, 44, 300), "no_incident")
    for service, kind, summary in ROUTINE:
        while True:
            t = d.at(7, 30, 11 * 3600)
            if all(service != i["service"] or not i["onset"] - timedelta(minutes=90) <= t <= i["end"]
                   for i in incs):
                break
        d.change(service, kind, summary, t, "routine")

    order = sorted(range(len(d.events)), key=lambda i: (d.events[i]["t"], i))
    counters, lines = {"t": 0, "z": 0, "c": 0}, [json.dumps({"type": "service", "name": n, "description": s},
                                                            ensure_ascii=False) for n, s in SERVICES]
    for pos, i in enumerate(order):
        ev = d.events[i]
        ev["pos"] = pos
        ev["t"] = ev["t"].replace(microsecond=0)
        p = "c" if ev["kind"] == "change" else ev["source"][0]
        counters[p] += 1
        ev["id"] = f"{p}{counters[p]}"
        if ev["kind"] == "change":
            row = {"type": "change", "id": ev["id"], "service": ev["service"], "kind": ev["change_kind"],
                   "summary": ev["summary"], "created_at": ts(ev["t"])}
        else:
            row = {"type": "post", "source": ev["source"], "id": ev["id"], "author": ev["author"],
                   "text": ev["text"], "created_at": ts(ev["t"])}
            twitter = ev["source"] == "twitter"
            row.update({"lang": "en"} if twitter else {"meta": {"priority": ev["priority"]}})
        lines.append(json.dumps(row, ensure_ascii=False))

    def ids(evs):
        return [e["id"] for e in sorted(evs, key=lambda e: e["pos"])]

    posts = [e for e in d.events if e["kind"] == "post"]
    truth_incs = []
    for inc in incs:
        evs = sorted(inc["posts"], key=lambda e: e["pos"])
        onset = inc["onset"].replace(microsecond=0)
        truth_incs.append({
            "id": inc["id"], "service": inc["service"], "onset": ts(onset), "end": ts(inc["end"]),
            "cause": inc["cause"]["id"], "cause_kind": inc["cause"]["change_kind"],
            "cause_lead_minutes": round((onset - inc["cause"]["t"]).total_seconds() / 60, 1),
            "nearer_wrong_service_change": inc["herring"]["id"],
            "late_alert": inc["alert"]["id"] if inc["alert"] else None,
            "category": {"i1": "locker_wont_open", "i2": "card_declined_at_checkout"}[inc["id"]],
            "distinct_authors": len({e["author"] for e in evs}), "posts": [e["id"] for e in evs],
            "timeline": [[e["id"], e["author"], ts(e["t"])] for e in evs]})
    decoys = [
        {"kind": "spam", "author": spam_author, "category": "lost_parcel_rant", "posts": ids(spam),
         "changes": [],
         "start": ts(min(e["t"] for e in spam))},
        {"kind": "praise", "category": "live_map_launch_praise", "posts": ids(praise),
         "changes": [launch["id"]],
         "start": ts(min(e["t"] for e in praise))},
        {"kind": "deploy_no_incident", "posts": [], "changes": [quiet["id"]]},
    ] + [{"kind": "nearer_change_wrong_service", "incident": i["id"], "changes": [i["herring"]["id"]],
          "posts": []} for i in incs]
    truth = {
        "scenario": NAME,
        "description": "The bundled demo: a day at Parcelpad, a small parcel-locker and delivery app. Every "
                       "text was written by the project (data/demo/generate.py); no dataset rows.",
        "start": ts(DAY), "end": ts(DAY + timedelta(days=1)), "services": [n for n, _ in SERVICES],
        "incidents": truth_incs, "decoys": decoys,
        "noise_posts": sum(e["tag"] in ("noise", "complaint") for e in posts),
        "baseline_complaint_posts": sum(e["tag"] == "complaint" for e in posts),
        "posts_total": len(posts), "changes_total": len(d.events) - len(posts),
    }
    return "\n".join(lines) + "\n", json.dumps(truth, indent=1, ensure_ascii=False) + "\n"


def main():
    replay, truth = build()
    (HERE / f"{NAME}.jsonl").write_text(replay, encoding="utf-8", newline="\n")
    (HERE / f"{NAME}.truth.json").write_text(truth, encoding="utf-8", newline="\n")
    print(f"wrote {HERE / NAME}.jsonl ({replay.count(chr(10))} lines) and {NAME}.truth.json")


if __name__ == "__main__":
    main()
