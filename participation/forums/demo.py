"""Demo forum: a topic with a lively discussion, an edited post, a flagged one, and official
responses (one of them corrected), so threads show who answered and how long it took; older
threads on winter parking, months back, give the numbers page a history; one thread still
awaits a response."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.demo import DemoAccounts
from participation.forums import services
from participation.forums.models import Post, Thread, Topic


def _spread(thread: Thread, posts: list[Post], *, days_ago: float, hours_apart: float) -> None:
    """Give a demo thread a history: its posts written hours apart, starting days ago."""
    start = utcnow() - timedelta(days=days_ago)
    thread.created_at = start
    for n, post in enumerate([thread.opening_post, *posts]):
        post.created_at = start + timedelta(hours=hours_apart * n)
    thread.last_activity_at = start + timedelta(hours=hours_apart * len(posts))


def seed_forums(session: Session, accounts: DemoAccounts) -> None:
    people = accounts.users
    official, moderator = people["official"], people["moderator"]
    rosa, sam, lee, noor = (people["resident"], people["resident2"], people["resident3"],
                            people["resident4"])

    park = services.create_topic(
        session, official, title="Riverside Park redesign",
        description="The city is choosing between three designs for Riverside Park. "
                    "Tell us what matters to you: play areas, shade, paths, the riverbank.\n\n"
                    "The plans are on display at the library until the end of the month.")
    winter = services.create_topic(
        session, official, title="Winter street parking rules",
        description="Should overnight parking alternate sides during snow emergencies?")

    shade = services.start_thread(
        session, rosa, park, title="More shade near the playground, please",
        body="The playground gets full sun all afternoon. Could the new design keep the old "
             "oaks and add **shade sails** over the benches?")
    first = services.reply_to_thread(
        session, sam, shade, body="Agreed. My kids can only play there in the morning in July.")
    shade_posts = [first, services.reply_to_thread(
        session, lee, shade, quote_of_id=first.id,
        body="Design B keeps four of the six oaks. Design C keeps all of them but has a "
             "smaller playground.")]
    shade_posts.append(services.respond_officially(
        session, official, shade, department="Transport and Parks",
        body="Thank you all. Every design keeps at least four oaks, and the shade sails over "
             "the benches are in the budget of each one. We will publish the tree survey "
             "with the final plan."))
    shade_posts.append(services.reply_to_thread(
        session, noor, shade,
        body="Shade sails would be great, as long as they come down in winter storms."))
    shade_posts.append(services.reply_to_thread(
        session, moderator, shade, body="Reminder: the designs are summarised in the topic above."))
    _spread(shade, shade_posts, days_ago=3, hours_apart=7)

    paths = services.start_thread(
        session, sam, park, title="Lit paths along the river",
        body="Whatever design wins, please light the riverside path. It is the only safe "
             "walking route home from the station after dark.")
    edited = services.reply_to_thread(
        session, noor, paths, body="Yes! Lighting that does not shine into the bedrooms on "
                                   "River Road, though.")
    services.edit_post(
        session, noor, edited,
        body="Yes! Downward-facing lighting, please, so it does not shine into the bedrooms on "
             "River Road.")
    motion = services.reply_to_thread(
        session, rosa, paths, body="Motion-activated lights could save energy too.")
    lights = services.respond_officially(
        session, official, paths, department="Public Works",
        body="The riverside path will be lit in every design, with downward-facing lamps.")
    services.edit_post(
        session, official, lights,
        body="The riverside path will be lit in every design, with downward-facing lamps "
             "dimmed after midnight.")

    off_topic = services.reply_to_thread(
        session, lee, paths, body="Buy cheap garden lights at my shop, link in my profile!!!")
    services.flag_post(session, sam, off_topic, reason="spam",
                       detail="Advertising, not about the park.")
    _spread(paths, [edited, motion, lights, off_topic], days_ago=1.5, hours_apart=5)

    services.start_thread(
        session, lee, park, title="Keep the riverbank wild",
        body="The reeds along the bank are home to herons. Please leave a strip unmown.")

    _seed_winter_history(session, accounts, winter)


def _seed_winter_history(session: Session, accounts: DemoAccounts, winter: Topic) -> None:
    """Last winter's threads, months ago: three answered officially one to three days after
    they were started, one that had none."""
    people = accounts.users
    official = people["official"]
    rosa, sam, lee, noor = (people["resident"], people["resident2"], people["resident3"],
                            people["resident4"])
    winter.created_at = utcnow() - timedelta(days=210)

    signs = services.start_thread(
        session, lee, winter, title="Alternate-side parking confused visitors",
        body="Last snow emergency half the street got tickets. The signs only say *odd days*, "
             "not which side is odd.")
    signs_posts = [
        services.reply_to_thread(session, rosa, signs,
                                 body="Same on Elm Street. A map on the city site would help."),
        services.reply_to_thread(session, noor, signs,
                                 body="And a text message when an emergency starts, please."),
        services.respond_officially(
            session, official, signs, department="Transport and Parks",
            body="New signs with the side marked go up before the first snow, and the "
                 "emergency alerts will go out by text as well as on the website.")]
    _spread(signs, signs_posts, days_ago=200, hours_apart=17)

    schools = services.start_thread(
        session, noor, winter, title="Snow routes past the schools",
        body="Could the streets past the three primary schools be cleared first?")
    schools_posts = [
        services.reply_to_thread(session, sam, schools,
                                 body="Yes, and the bus stops in front of them."),
        services.respond_officially(
            session, official, schools, department="Public Works",
            body="The school streets join the priority routes this winter, bus stops "
                 "included.")]
    _spread(schools, schools_posts, days_ago=150, hours_apart=15)

    permits = services.start_thread(
        session, rosa, winter, title="Permit zones near the station",
        body="Would permit zones near the station push commuters into the side streets?")
    permits_posts = [
        services.reply_to_thread(session, sam, permits,
                                 body="They did in the next town over, for about a month."),
        services.reply_to_thread(session, lee, permits,
                                 body="Only if the zones end one street too early.")]
    _spread(permits, permits_posts, days_ago=100, hours_apart=6)

    footbridge = services.start_thread(
        session, sam, winter, title="Grit on the footbridge",
        body="The footbridge to the station was an ice rink every morning last February.")
    footbridge_posts = [
        services.reply_to_thread(session, noor, footbridge,
                                 body="A grit bin at each end would let us do it ourselves."),
        services.respond_officially(
            session, official, footbridge, department="Public Works",
            body="Grit bins go in at both ends in November, and the bridge is on the early "
                 "gritting round.")]
    _spread(footbridge, footbridge_posts, days_ago=60, hours_apart=34)
