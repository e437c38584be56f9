"""REST endpoints for gifts: thin views that parse input, call one service and render the result."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from gifts.api.serializers import (
    AcceptSerializer,
    ClaimCardSerializer,
    ClaimSlotSerializer,
    GiftCreateSerializer,
    GiftListSerializer,
    GiftSerializer,
    NotificationReadSerializer,
    NotificationSerializer,
    SavedAddressSerializer,
    SlotRecipientSerializer,
    ThanksSerializer,
)
from gifts.models import Slot
from gifts.selectors import (
    claim_card,
    gift_get_for_sender,
    gifts_for_sender,
    slot_get_for_recipient,
    slots_received,
)
from gifts.services import checkout, claim
from gifts.services import sender as sender_service
from gifts.services.claim import AddressInput
from gifts.services.notifications import notification_mark_read
from gifts.throttles import CLAIM_THROTTLES
from giftshop.errors import error_responses
from shops.api.serializers import card_photos_absolute

log = logging.getLogger(__name__)


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# ----- sender -----


class GiftListCreate(generics.ListAPIView):
    """The sender's gifts (newest first, cursor pagination) and `POST` to send a new one."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = GiftListSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return gifts_for_sender(user=self.request.user)

    @extend_schema(request=GiftCreateSerializer, responses={201: GiftSerializer, **error_responses(404, 409)})
    def post(self, request):
        data = GiftCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gift = checkout.gift_create(sender=request.user, **data.validated_data)
        return Response(GiftSerializer(gift).data, status=status.HTTP_201_CREATED)


class GiftDetail(APIView):
    """One of the sender's gifts with per-recipient status. Never an address or phone."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: GiftSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(GiftSerializer(gift_get_for_sender(gift_id=pk, user=request.user)).data)


class RemindedSerializer(serializers.Serializer):
    reminded = serializers.IntegerField(help_text="how many recipients were reminded")


class GiftWithdraw(APIView):
    """Take back every still-unclaimed slot at once (single and group gifts): each is refunded to the
    sender now and its stock returns. 409 `nothing_to_withdraw` when nothing is left to take back."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: GiftSerializer, **error_responses(404, 409)})
    def post(self, request, pk: int):
        sender_service.gift_withdraw(gift_id=pk, user=request.user)
        return Response(GiftSerializer(gift_get_for_sender(gift_id=pk, user=request.user)).data)


class GiftRemind(APIView):
    """Remind the recipients who hold a slot and have not accepted (a named friend, group members who
    grabbed, lottery winners, list recipients). 429 with `Retry-After` within the interval."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={202: RemindedSerializer, **error_responses(404, 429)})
    def post(self, request, pk: int):
        reminded = sender_service.gift_remind(gift_id=pk, user=request.user)
        return Response({"reminded": reminded}, status=status.HTTP_202_ACCEPTED)


# ----- recipient -----


class ClaimCard(APIView):
    """The gift card behind a claim link: who sent it, the blessing, the product, what is left."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: ClaimCardSerializer, **error_responses(404)})
    def get(self, request, token: str):
        gift = claim.claim_gift_get(token=token)
        claim.claim_open(gift=gift, user=request.user)
        return Response(card_photos_absolute(request, claim_card(gift=gift, user=request.user)))


SlotOut = ClaimSlotSerializer


def _slot_out(slot: Slot) -> dict:
    return {"id": slot.pk, "status": slot.status, "sku_id": slot.sku_id}


class ClaimGrab(APIView):
    """Group gifts: take one slot for this account. 409 `all_taken` or `already_taken_by_you`."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES
    looked = None  # the gift and the grab gate's answer, when they were looked up together with the API token

    def token_account(self, key: str):
        """The token check (CachedTokenAuthentication) asks here first: the account, and whether the grab
        gate refuses it, in one round trip to Redis that takes nothing; None for the usual check."""
        if self.request.method != "POST":
            return None
        answer = claim.grab_authenticate(claim_token=self.kwargs["token"], api_token=key)
        if answer is None:
            return None
        user, self.looked = answer
        return user

    @extend_schema(request=None, responses={200: SlotOut, **error_responses(400, 403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        slot = claim.grab_by_token(token=token, user=request.user, looked=self.looked)
        return Response(_slot_out(slot))


class ClaimAccept(APIView):
    """Accept with a shipping address (and optionally another 款式). 202: a worker processes it."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(request=AcceptSerializer, responses={202: SlotOut, **error_responses(403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gift = claim.claim_gift_get(token=token, for_card=False)
        slot = claim.slot_accept(
            gift=gift,
            user=request.user,
            address=AddressInput.from_dict(data.validated_data["address"]),
            sku_id=data.validated_data.get("sku_id"),
            save_address=data.validated_data["save_address"],
        )
        return Response(_slot_out(slot), status=status.HTTP_202_ACCEPTED)


class ClaimDecline(APIView):
    """Decline: the sender is refunded (group gifts: your grabbed slot goes back to the pool)."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(request=None, responses={200: SlotOut, **error_responses(403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        slot = claim.slot_decline(gift=claim.claim_gift_get(token=token, for_card=False), user=request.user)
        return Response(_slot_out(slot))


class ReceivedList(generics.ListAPIView):
    """Gifts this account received, with tracking."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = SlotRecipientSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return slots_received(user=self.request.user).prefetch_related("shipment__tracking")


class ReceivedThanks(APIView):
    """Send a thank-you note the sender sees."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ThanksSerializer, responses={200: SlotRecipientSerializer, **error_responses(403, 404, 409)})
    def post(self, request, pk: int):
        data = ThanksSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = slot_get_for_recipient(slot_id=pk, user=request.user)
        slot = claim.slot_thank(slot=slot, user=request.user, text=data.validated_data["thanks"])
        return Response(SlotRecipientSerializer(slot, context={"request": request}).data)


class SavedAddressList(generics.ListCreateAPIView):
    """The account's saved addresses, to reuse when accepting."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = SavedAddressSerializer
    pagination_class = None

    def get_queryset(self):
        return self.request.user.saved_addresses.all()

    def perform_create(self, serializer):
        address = AddressInput.from_dict(serializer.validated_data)
        claim.address_validate(address)
        serializer.instance = claim.address_save(user=self.request.user, address=address)


class SavedAddressDetail(generics.DestroyAPIView):
    """Delete one of your saved addresses."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = SavedAddressSerializer

    def get_queryset(self):
        return self.request.user.saved_addresses.all()


# ----- merchant -----


# ----- the inbox -----


class NotificationList(generics.ListAPIView):
    """The account's inbox, newest first (cursor pagination); `read_at` is null until marked read."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = NotificationSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return self.request.user.notifications.order_by("-id")


class NotificationRead(APIView):
    """Mark one notification (`id`) or, without it, the whole inbox read."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=NotificationReadSerializer,
        responses={200: inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()})},
    )
    def post(self, request):
        data = NotificationReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            {"marked": notification_mark_read(user=request.user, notification_id=data.validated_data.get("id"))}
        )
