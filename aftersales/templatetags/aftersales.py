"""`{% after_sales_badge slot %}`: a parcel's after-sales status where pages of the apps below show
a slot (the received list, the sender's gift page), without those apps importing this one."""

from __future__ import annotations

from django import template

from aftersales.selectors import after_sales_latest_by_slot

register = template.Library()


@register.inclusion_tag("aftersales/_badge.html", takes_context=True)
def after_sales_badge(context, slot, link: bool = False):
    """The newest request's status. The slots of one page are read in one query, on first use."""
    cache = context.render_context.setdefault("after_sales_by_slot", {})
    if slot.pk not in cache:
        slots = context.get("slots") or [slot]
        ids = {getattr(s, "pk", None) for s in slots} | {slot.pk}
        cache.update(dict.fromkeys(ids))
        cache.update(after_sales_latest_by_slot(slot_ids=ids))
    return {"request": cache.get(slot.pk), "slot": slot, "link": link}
