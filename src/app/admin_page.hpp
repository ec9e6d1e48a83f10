#pragma once
// The admin dashboard's files, compiled in from src/app/admin_page/ (cmake/EmbedAdminPage.cmake).
#include <span>
#include <string_view>

namespace webhook::app {

struct PageAsset {
  std::string_view path;  // "/" for index.html, else "/<file name>"
  std::string_view content_type;
  std::string_view body;
};

std::span<const PageAsset> admin_page_assets();

}  // namespace webhook::app
