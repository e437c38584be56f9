from gifts.services.claim import slot_accept


def accept(gift, user, address):
    """Accept without running on-commit work: the claim stays `accepted`, as if its task were lost."""
    return slot_accept(gift=gift, user=user, address=address)
