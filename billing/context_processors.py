def admin_center(request):
    tenant = getattr(request, "tenant", None)
    return {"tenant": tenant}
