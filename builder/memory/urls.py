from django.urls import path

from builder.memory import apis

END_USER = "bots/<uuid:bot_id>/end-users/<uuid:end_user>"

urlpatterns = [
    # Bot editors: every end user of the bot.
    path("bots/<uuid:bot_id>/end-users/", apis.EndUserListApi.as_view(), name="end-user-list"),
    path(END_USER, apis.EndUserDetailApi.as_view(), name="end-user-detail"),
    path(f"{END_USER}/facts/", apis.EndUserFactListApi.as_view(), name="end-user-fact-list"),
    path(f"{END_USER}/facts/<uuid:fact_id>", apis.EndUserFactDetailApi.as_view(), name="end-user-fact-detail"),
    path(f"{END_USER}/variables", apis.EndUserVariablesApi.as_view(), name="end-user-variables"),
    # The end user: what the bot remembers about them.
    path("bots/<uuid:bot_id>/memory", apis.OwnMemoryApi.as_view(), name="own-memory"),
    path("bots/<uuid:bot_id>/memory/facts/", apis.OwnFactListApi.as_view(), name="own-fact-list"),
    path("bots/<uuid:bot_id>/memory/facts/<uuid:fact_id>", apis.OwnFactDetailApi.as_view(), name="own-fact-detail"),
    path("bots/<uuid:bot_id>/memory/variables", apis.OwnVariablesApi.as_view(), name="own-variables"),
]
