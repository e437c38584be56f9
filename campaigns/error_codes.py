"""Stable machine codes for the refusals of group lotteries and bulk gifts (the gift core's own
codes, such as `expired` or `not_yours`, are in gifts.error_codes)."""

# group lottery
NOT_LOTTERY = "not_lottery"
BAD_DRAW_TIME = "bad_draw_time"
NOT_INVITED = "not_invited"
LOTTERY_CLOSED = "lottery_closed"
NOT_A_WINNER = "not_a_winner"

# bulk gifts
BAD_LIST = "bad_list"
LIST_NOT_READY = "list_not_ready"
NO_VALID_ROWS = "no_valid_rows"
CODE_REQUIRED = "code_required"
BAD_CODE = "bad_code"
CODE_EXPIRED = "code_expired"
TOO_MANY_ATTEMPTS = "too_many_attempts"
TOO_SOON = "too_soon"
