from ninja import Router, Schema

router = Router()


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: str


@router.get("", response=MeOut, summary="The account the token belongs to")
def me(request):
    return request.user
