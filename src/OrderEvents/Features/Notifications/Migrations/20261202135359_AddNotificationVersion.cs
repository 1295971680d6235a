using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderEvents.Features.Notifications.Migrations
{
    /// <inheritdoc />
    public partial class AddNotificationVersion : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Null for the rows stored before: the first versioned event of such an order finds no version below it
            // and takes the slow path once (the predecessors it reads from the order log are already stored, by id).
            migrationBuilder.AddColumn<long>(
                name: "version",
                schema: "notifications",
                table: "notifications",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_notifications_order_id_version",
                schema: "notifications",
                table: "notifications",
                columns: new[] { "order_id", "version" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_notifications_order_id_version",
                schema: "notifications",
                table: "notifications");

            migrationBuilder.DropColumn(
                name: "version",
                schema: "notifications",
                table: "notifications");
        }
    }
}
