from ninja import Router

people_router = Router()
groups_router = Router()
