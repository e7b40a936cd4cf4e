from django.conf import settings


def site(request):
    return {"service_name": settings.SERVICE_NAME, "debug": settings.DEBUG}
