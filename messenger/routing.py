from django.urls import path

from messenger.consumers import ParleyConsumer

websocket_urlpatterns = [path("ws/", ParleyConsumer.as_asgi())]
