"""Demo forum: a topic with a lively discussion, an edited post, a flagged one, and official
responses (one of them corrected), so threads show who answered and how long it took."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.demo import DemoAccounts
from participation.forums import services
from participation.forums.models import Post, Thread


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
    services.create_topic(
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
