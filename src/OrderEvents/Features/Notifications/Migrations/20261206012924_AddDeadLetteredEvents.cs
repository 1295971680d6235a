using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderEvents.Features.Notifications.Migrations
{
    /// <inheritdoc />
    public partial class AddDeadLetteredEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "dead_lettered_events",
                schema: "notifications",
                columns: table => new
                {
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<long>(type: "bigint", nullable: false),
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    version = table.Column<long>(type: "bigint", nullable: true),
                    event_type = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    sql_state = table.Column<string>(type: "character varying(5)", maxLength: 5, nullable: false),
                    constraint_name = table.Column<string>(type: "text", nullable: true),
                    message = table.Column<string>(type: "text", nullable: false),
                    dead_lettered_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_dead_lettered_events", x => x.event_id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_dead_lettered_events_order_id_version",
                schema: "notifications",
                table: "dead_lettered_events",
                columns: new[] { "order_id", "version" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dead_lettered_events",
                schema: "notifications");
        }
    }
}
