"""The demo company's rooms and its week of conversation, as data: messenger.demo plays it through the services.

Fixed text, fixed times: the same company on every machine, its week the last Monday to Friday before the seed
runs (the lines name their weekdays). A day's bursts are played in time order across conversations, a line every
few minutes within a burst; reactions, edits and deletions follow their line within a minute or two, before the
next line. Each sender stays well under the send rate's burst (PARLEY_SEND_BURST, 30 by default), which the
seed goes through like everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

EVERYONE = "everyone"

# name -> (creator, topic, is_public, other members or EVERYONE). #general is the default room.
ROOMS = {
    "general": (
        "heidi",
        "Company news and everyday questions. Everyone is here; new colleagues join automatically.",
        True,
        EVERYONE,
    ),
    "sales-pipeline": (
        "bob",
        "Deals in flight, forecasts and wins. Numbers in the weekly forecast file.",
        True,
        ("alice", "frank", "grace", "mallory"),
    ),
    "engineering": (
        "carol",
        "Builds, deploys, incidents and code review. On call this week: Dave.",
        True,
        ("dave", "erin", "itadmin"),
    ),
    "trading-desk": (
        "mallory",
        "The desk's own room. Business communications: archived and supervised.",
        False,
        ("judy", "niaj"),
    ),
    "random": (
        "erin",
        "Lunch, running, lost umbrellas. Nothing work-related required.",
        True,
        ("heidi", "ivan", "alice", "dave", "grace", "niaj", "bob"),
    ),
}
DEFAULT_ROOM = "general"


@dataclass(frozen=True)
class Line:
    sender: str
    text: str
    key: str = ""  # a name later lines reply to
    reply_to: str = ""
    reactions: tuple[tuple[str, str], ...] = ()  # (emoji, "space separated usernames")
    typo: str = ""  # what was sent first; a minute later the sender edits it to `text`
    deleted: bool = False  # the sender deletes it a minute later (the archive keeps it)
    file: str = ""  # a file shared with `text` as its caption: "chart" (a picture) or "forecast" (a CSV file)


@dataclass(frozen=True)
class Burst:
    conversation: str  # "#room" or "alice+bob" for a direct chat
    at: str  # "HH:MM", local time
    lines: tuple[Line, ...]


def burst(conversation: str, at: str, *lines: Line) -> Burst:
    return Burst(conversation, at, lines)


WEEK: tuple[tuple[Burst, ...], ...] = (
    (  # Monday
        burst(
            "#trading-desk",
            "08:45",
            Line("mallory", "Morning. Rates decision on Wednesday: keep positions light until then."),
            Line("judy", "Understood. I'm flat on the 10-year since last week."),
            Line("niaj", "A client called about the block in the 2030 bonds; they want a quote by noon."),
            Line("mallory", "Quote it, but run it past me before you send."),
        ),
        burst(
            "#general",
            "09:05",
            Line(
                "heidi",
                "Good morning everyone! Reminder: the fire drill is on Thursday at 11:00. Please use the stairs, "
                "not the lifts.",
                key="drill",
                reactions=(("👍", "alice carol ivan judy"),),
            ),
            Line("ivan", "The assembly point is the car park on the north side. I'll be there with the list."),
            Line(
                "carol",
                "Thursday 11:00 clashes with the release review; engineering will move it to 14:00.",
                reply_to="drill",
            ),
            Line("heidi", "Thanks Carol 🙏"),
        ),
        burst(
            "#sales-pipeline",
            "09:20",
            Line("bob", "Morning team. Pipeline review at 10:00; please update your deals in the sheet before then."),
            Line("alice", "Updated. Northwind moved to negotiation, they asked for a three-year term."),
            Line("bob", "Nice. What discount are they looking for?"),
            Line("alice", "12% on the second and third year. I said we'd come back with a proposal by Wednesday."),
            Line("frank", "Anything above 10% needs my sign-off: send me the numbers first, please."),
            Line("alice", "Will do, Frank."),
        ),
        burst(
            "#engineering",
            "09:40",
            Line("carol", "Release 2.14 is cut, changelog in the usual place. @dave you're on call this week, right?"),
            Line("dave", "Yes, pager is on. Quiet weekend: two alerts, both disk usage on the search nodes."),
            Line("erin", "I'll look at the search node alert, it has been flapping since the upgrade."),
            Line("carol", "Thanks. Let's keep an eye on p95 latency after the deploy."),
        ),
        burst(
            "alice+bob",
            "11:00",
            Line("alice", "Do you have ten minutes before the Northwind call?"),
            Line("bob", "Sure, call me now."),
        ),
        burst(
            "#trading-desk",
            "11:40",
            Line("niaj", "Quote sent after your OK: 98.40 / 98.55.", reactions=(("👍", "mallory judy"),)),
            Line("mallory", "Good. Tell me if they come back."),
        ),
        burst(
            "#random",
            "12:15",
            Line(
                "erin",
                "Who's in for the new ramen place on the corner?",
                reactions=(("🍜", "dave alice niaj"), ("👀", "bob")),
            ),
            Line("dave", "In. 12:30?"),
            Line("heidi", "Count me in, I'll book a table for five."),
            Line("alice", "Save me a seat, I'll be ten minutes late."),
        ),
        burst(
            "#general",
            "13:30",
            Line(
                "frank",
                "Expense reports for last month are due by Friday. Receipts as PDF please, not photos of photos.",
                reactions=(("😂", "dave erin"),),
            ),
            Line("grace", "And please use the new template: the old one doesn't add VAT correctly."),
            Line("bob", "Good to know, I'll tell the team."),
        ),
        burst(
            "heidi+ivan",
            "14:20",
            Line("heidi", "Can you check the projector in the third-floor meeting room? It keeps switching inputs."),
            Line("ivan", "On it. Probably the HDMI switch again."),
            Line("ivan", "Replaced the switch, it works now."),
            Line("heidi", "You're a star."),
        ),
        burst(
            "#engineering",
            "15:00",
            Line("dave", "2.14 is on staging, migrations took 40 seconds."),
            Line("erin", "Frontend smoke tests are green on staging."),
            Line("itadmin", "Heads-up: the VPN certificates are renewed tonight at 22:00; expect one reconnect."),
        ),
        burst(
            "#sales-pipeline",
            "16:10",
            Line("grace", "The Q3 forecast model is on the shared drive. Best case 4.2M, base case 3.6M."),
            Line("bob", "Base case is where I'd put my money. Thanks Grace!"),
        ),
    ),
    (  # Tuesday
        burst(
            "#trading-desk",
            "09:00",
            Line("judy", "Futures are pricing a 25bp cut now."),
            Line("mallory", "That's more than last week. Niaj, what are clients asking?"),
            Line("niaj", "Mostly duration. Two asked for switches out of the short end."),
            Line("niaj", "I'll send you the client list tonight from my personal email.", deleted=True),
            Line("niaj", "Sorry, wrong idea: I'll share the list here tomorrow."),
            Line("mallory", "Please do. Client business stays on Parley."),
        ),
        burst(
            "#general",
            "09:10",
            Line(
                "heidi",
                "The coffee machine on the second floor is fixed ☕",
                reactions=(("🎉", "dave erin bob grace"),),
            ),
            Line("dave", "Best news of the week."),
            Line("ivan", "Please don't empty milk cartons into the drip tray 🙃"),
        ),
        burst(
            "#sales-pipeline",
            "10:05",
            Line(
                "alice", "Proposal for Northwind: 3 years, 8% off year two, 12% off year three. Numbers in the sheet."
            ),
            Line("frank", "Works for me, the margin stays above target. Approved.", reactions=(("🎉", "alice bob"),)),
            Line("bob", "Great, send it out today."),
            Line("alice", "Sent! 🤞"),
        ),
        burst(
            "#engineering",
            "10:30",
            Line(
                "erin",
                "Search node alert: old index snapshots fill the disk. The PR pruning them after 7 days is up.",
                key="prune",
            ),
            Line("carol", "Reviewed: one comment on the retention setting, otherwise looks good.", reply_to="prune"),
            Line("erin", "Addressed, merging."),
            Line("dave", "2.14 to production at 16:00 unless anyone objects."),
        ),
        burst(
            "carol+dave",
            "11:15",
            Line("carol", "Could you pair with Erin on the index pruning? That part of the code is new to her."),
            Line("dave", "Sure, after lunch."),
        ),
        burst(
            "#random",
            "12:40",
            Line("niaj", "Ramen verdict: 8/10, the spicy miso is worth it."),
            Line("erin", "Agreed, going again on Friday."),
            Line(
                "grace",
                "Anyone for a running group on Thursdays after work? 5k, slow pace.",
                reactions=(("🏃", "ivan dave"),),
            ),
            Line("ivan", "I'm in."),
        ),
        burst(
            "#sales-pipeline",
            "14:30",
            Line(
                "bob",
                "Pipeline by stage as of today. Negotiation is the fullest it has been this year.",
                key="chart",
                file="chart",
                reactions=(("🚀", "alice grace mallory"),),
            ),
            Line("grace", "Nice chart. Contoso is still in 'qualified': shouldn't it be 'proposal'?", reply_to="chart"),
            Line("bob", "Yes, fixing it in the sheet."),
            Line("mallory", "If Contoso closes this quarter, let's talk about their FX hedging too."),
        ),
        burst(
            "#general",
            "16:00",
            Line(
                "compliance",
                "A reminder: business conversations belong here, not on personal phones or e-mail. Everything in "
                "Parley is archived as the regulators require.",
                reactions=(("✅", "mallory bob"),),
            ),
            Line("mallory", "Noted for the desk."),
            Line("bob", "Same for sales. Thanks Connie."),
        ),
        burst(
            "#engineering",
            "16:20",
            Line(
                "dave",
                "2.14 is in production. p95 at 180 ms, same as before.",
                reactions=(("🚀", "carol erin itadmin"),),
            ),
            Line("carol", "Thanks Dave, nice and quiet."),
        ),
        burst(
            "judy+mallory",
            "17:10",
            Line("mallory", "Good call on the 10-year today."),
            Line("judy", "Thanks. Lucky timing too."),
        ),
    ),
    (  # Wednesday
        burst(
            "#general",
            "09:00",
            Line(
                "itadmin",
                "Laptop refresh: if your laptop is more than four years old, IT will contact you this month.",
                key="laptops",
                reactions=(("🎉", "erin alice judy"),),
            ),
            Line("erin", "Mine is five and sounds like a jet engine."),
            Line("itadmin", "You're on the list, Erin 😄", reply_to="laptops"),
        ),
        burst(
            "#sales-pipeline",
            "09:30",
            Line(
                "alice",
                "Northwind accepted, subject to their legal review of the data processing terms.",
                reactions=(("🎉", "bob frank grace"), ("❤️", "mallory")),
            ),
            Line("bob", "Fantastic work, Alice."),
            Line("frank", "Once it's signed I'll update the revenue schedule."),
        ),
        burst(
            "#trading-desk",
            "10:00",
            Line(
                "niaj", "As promised, the clients for the switch trades: Acme Pension, Harbor Insurance, Lakeview Fund."
            ),
            Line("mallory", "Thanks. Judy, can you take Harbor?"),
            Line("judy", "Yes, I cover them already."),
        ),
        burst(
            "#engineering",
            "10:05",
            Line("carol", "Planning 2.15: proposals in the doc by Friday. So far: SSO, faster search, exports."),
            Line("erin", "I'd like to take faster search."),
            Line("dave", "I'll take exports, I know that code."),
            Line("itadmin", "For SSO we need the identity provider's metadata; I've asked the vendor."),
            Line("carol", "Great, let's settle it at Monday's planning."),
        ),
        burst(
            "alice+carol",
            "10:45",
            Line(
                "alice",
                "Hi Carol, could engineering join a Northwind technical call next week? They have SSO questions.",
            ),
            Line("carol", "Yes, Ian and I can join. Tuesday or Wednesday works."),
            Line("alice", "Wednesday 10:00 it is, invite sent.", typo="Wendesday 10:00 it is, invite sent."),
        ),
        burst(
            "#random",
            "12:10",
            Line("dave", "Lost: a black umbrella, probably in meeting room 3B."),
            Line("ivan", "Found one there, it's at reception."),
            Line("dave", "That's the one, thanks!"),
        ),
        burst(
            "#trading-desk",
            "14:05",
            Line(
                "mallory",
                "Rates decision out: 25bp cut, as priced. Tell clients we're open for business.",
                reactions=(("👍", "judy niaj"),),
            ),
            Line("judy", "Harbor wants the switch done at the close."),
            Line("niaj", "Lakeview too, same size as last time."),
        ),
        burst(
            "#general",
            "15:00",
            Line(
                "heidi",
                "Cake in the kitchen for Grace's birthday! 🎂",
                reactions=(("🎉", "alice bob carol dave frank ivan"),),
            ),
            Line("frank", "Happy birthday Grace!"),
            Line("grace", "Thank you all! Help yourselves."),
        ),
        burst(
            "#sales-pipeline",
            "15:30",
            Line("grace", "The updated forecast, with Northwind in the base case.", key="forecast", file="forecast"),
            Line("frank", "Base case is 3.9M now. Good.", reply_to="forecast"),
            Line("bob", "@alice could you add the Contoso next steps to the sheet before Friday?"),
            Line("alice", "Done."),
        ),
        burst(
            "#engineering",
            "17:00",
            Line(
                "dave",
                "Pager: one alert at 14:12, a slow query on the reports page. Fixed with an index.",
                reactions=(("👍", "carol"),),
            ),
        ),
    ),
    (  # Thursday
        burst(
            "#general",
            "11:40",
            Line(
                "heidi",
                "The fire drill went well: everyone was out in four minutes. Thanks for your patience!",
                reactions=(("👏", "ivan mallory"),),
            ),
            Line("ivan", "A new record."),
        ),
        burst(
            "#engineering",
            "09:30",
            Line("erin", "Faster search idea: a trigram index for the directory. Prototype by Tuesday."),
            Line("carol", "Sounds good. Keep the benchmark numbers in the PR."),
            Line("dave", "On-call hand-over to Erin on Monday at 09:00; notes are in the runbook."),
        ),
        burst(
            "heidi+ivan",
            "10:00",
            Line("heidi", "Could you send me the headcount from the assembly point?"),
            Line("ivan", "Sent by e-mail: 86 people, everyone accounted for."),
        ),
        burst(
            "#sales-pipeline",
            "11:00",
            Line("bob", "Weekly numbers: 3 deals won, 2 lost, 11 open. Details in the forecast file above."),
            Line("grace", "Win rate this quarter is 41%, up from 33%."),
            Line("bob", "Let's keep it going next week."),
        ),
        burst(
            "#random",
            "13:00",
            Line("grace", "Running group: first run next Thursday at 18:00 from the main entrance."),
            Line("niaj", "What pace is slow pace?"),
            Line("grace", "Slow enough to talk. About 6:30 per km."),
            Line("niaj", "Then count me in."),
        ),
    ),
    (  # Friday, left unread: the first sign-in finds unread rooms to open
        burst(
            "#general",
            "09:10",
            Line("heidi", "The office closes at 15:00 today for building maintenance."),
            Line("dave", "Good to know, I'll work from home after lunch."),
        ),
        burst(
            "#trading-desk",
            "09:15",
            Line("niaj", "Harbor and Lakeview switches settled this morning."),
            Line("mallory", "Thanks Niaj."),
        ),
        burst(
            "#sales-pipeline",
            "10:00",
            Line("alice", "Contoso want a demo of the archive features next week."),
            Line("bob", "Good: let's bring Connie, she can show them what compliance sees."),
        ),
        burst(
            "#engineering",
            "11:00",
            Line("carol", "Retro for 2.14: smooth. One action: alert on snapshot disk usage before it fills."),
            Line("erin", "I'll add the alert."),
        ),
        burst(
            "#general",
            "14:00",
            Line(
                "bob",
                "Sales had its best week of the quarter. Thanks to everyone who helped with Northwind 🎉",
                reactions=(("🎉", "alice frank grace heidi carol"),),
            ),
            Line("carol", "Congratulations!"),
            Line("mallory", "Well done."),
        ),
        burst(
            "#trading-desk",
            "14:20",
            Line("mallory", "Good week, desk. P&L is up and the book is balanced."),
            Line("judy", "Thanks Mallory."),
        ),
        burst(
            "#random",
            "14:30",
            Line("erin", "Ramen again next week? Same time."),
            Line("dave", "Always."),
        ),
    ),
)
